// The chat message editor of the new-version form (prompts/_chat_editor.html), without inline
// script. Without JavaScript the rows are a Django formset that works on submit: positions to
// reorder, Remove boxes, spare empty rows to fill in. Here buttons add, remove and move rows
// at once, and the rows are renumbered so that they post in their on-screen order.
(function () {
  "use strict";

  const ATTRIBUTES = ["name", "id", "for", "aria-describedby"];

  function editorParts(editor) {
    const prefix = editor.dataset.chatPrefix;
    const field = function (name) {
      return editor.querySelector("input[name='" + prefix + "-" + name + "']");
    };
    return {
      prefix: prefix,
      list: editor.querySelector("[data-chat-rows]"),
      template: editor.querySelector("template[data-chat-template]"),
      add: editor.querySelector("button[data-chat-add]"),
      status: editor.querySelector("[data-chat-status]"),
      total: field("TOTAL_FORMS"),
      initial: field("INITIAL_FORMS"),
      max: parseInt(field("MAX_NUM_FORMS").value, 10) || 1000,
    };
  }

  function rowsOf(parts) {
    return Array.prototype.slice.call(parts.list.querySelectorAll(":scope > [data-chat-row]"));
  }

  function say(parts, text) {
    parts.status.textContent = text;
  }

  // Row i posts as `<prefix>-i-…` at position i + 1; every row shown is a message the author
  // wants, so all of them count as initial rows (an empty one is an error, not skipped).
  function renumber(parts) {
    const pattern = new RegExp(parts.prefix + "-(\\d+|__prefix__)-", "g");
    const rows = rowsOf(parts);
    rows.forEach(function (row, index) {
      row.querySelectorAll("*").forEach(function (element) {
        ATTRIBUTES.forEach(function (attribute) {
          const value = element.getAttribute(attribute);
          if (value) {
            element.setAttribute(attribute, value.replace(pattern, parts.prefix + "-" + index + "-"));
          }
        });
      });
      row.querySelectorAll("[data-chat-number]").forEach(function (number) {
        number.textContent = String(index + 1);
      });
      const order = row.querySelector("input[name$='-ORDER']");
      if (order) {
        order.value = String(index + 1);
      }
      row.querySelector("button[data-chat-move='-1']").disabled = index === 0;
      row.querySelector("button[data-chat-move='1']").disabled = index === rows.length - 1;
    });
    parts.total.value = String(rows.length);
    parts.initial.value = String(rows.length);
    parts.add.disabled = rows.length >= parts.max;
  }

  function showScripted(root) {
    root.querySelectorAll("[data-chat-nojs]").forEach(function (element) {
      element.hidden = true;
    });
    root.querySelectorAll("[data-chat-js]").forEach(function (element) {
      element.hidden = false;
    });
  }

  function addRow(parts) {
    const row = parts.template.content.firstElementChild.cloneNode(true);
    showScripted(row);
    parts.list.appendChild(row);
    renumber(parts);
    row.querySelector("select").focus();
    say(parts, "Added message " + rowsOf(parts).length + ".");
  }

  function removeRow(parts, row) {
    const index = rowsOf(parts).indexOf(row);
    row.remove();
    renumber(parts);
    const rows = rowsOf(parts);
    const next = rows[index] || rows[index - 1];
    (next ? next.querySelector("button[data-chat-remove]") : parts.add).focus();
    say(parts, "Removed message " + (index + 1) + "; " + rows.length + " left.");
  }

  function moveRow(parts, row, step) {
    const rows = rowsOf(parts);
    const index = rows.indexOf(row);
    const target = index + step;
    if (target < 0 || target >= rows.length) {
      return;
    }
    if (step < 0) {
      parts.list.insertBefore(row, rows[target]);
    } else {
      parts.list.insertBefore(rows[target], row);
    }
    renumber(parts);
    // Moving the row took the focus away; give it back, or to the other arrow at an end.
    const same = row.querySelector("button[data-chat-move='" + step + "']");
    const other = row.querySelector("button[data-chat-move='" + -step + "']");
    (same.disabled ? other : same).focus();
    say(parts, "Moved message to position " + (target + 1) + " of " + rows.length + ".");
  }

  function start(editor) {
    if (editor.dataset.chatReady) {
      return;
    }
    editor.dataset.chatReady = "1";
    const parts = editorParts(editor);
    showScripted(editor);
    // What a reader without JavaScript would use: ticked removals and the spare empty rows
    // (one row stays, so a first version starts with something to fill in).
    rowsOf(parts).forEach(function (row) {
      const remove = row.querySelector("input[name$='-DELETE']");
      const content = row.querySelector("textarea");
      const emptySpare = row.hasAttribute("data-chat-spare") && !content.value;
      if ((remove && remove.checked) || (emptySpare && rowsOf(parts).length > 1)) {
        row.remove();
      }
    });
    renumber(parts);
    editor.addEventListener("click", function (event) {
      const button = event.target.closest("button");
      if (!button || !editor.contains(button)) {
        return;
      }
      const row = button.closest("[data-chat-row]");
      if (button.hasAttribute("data-chat-add")) {
        addRow(parts);
      } else if (row && button.hasAttribute("data-chat-remove")) {
        removeRow(parts, row);
      } else if (row && button.hasAttribute("data-chat-move")) {
        moveRow(parts, row, parseInt(button.dataset.chatMove, 10));
      }
    });
  }

  function startAll() {
    document.querySelectorAll("[data-chat-editor]").forEach(start);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", startAll);
  } else {
    startAll();
  }
})();
