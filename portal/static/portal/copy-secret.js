// Copy button for a one-time token secret (teams/_secret.html), without inline script.
// Without JavaScript the button stays hidden and the secret is a selectable read-only input.
(function () {
  "use strict";

  function say(status, text) {
    if (status) {
      // Clear first so the same message is announced again on a second copy.
      status.textContent = "";
      window.setTimeout(function () {
        status.textContent = text;
      }, 50);
    }
  }

  function legacyCopy(input) {
    input.focus();
    input.select();
    try {
      return document.execCommand("copy");
    } catch (error) {
      return false;
    }
  }

  function copy(button) {
    const input = document.getElementById(button.dataset.copyTarget);
    const status = document.getElementById(button.dataset.copyStatus);
    if (!input) {
      return;
    }
    const failed = function () {
      input.focus();
      input.select();
      say(status, "Could not copy: the token is selected, press Ctrl+C (⌘C on a Mac).");
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(input.value).then(function () {
        say(status, "Copied");
      }, function () {
        if (legacyCopy(input)) {
          say(status, "Copied");
        } else {
          failed();
        }
      });
    } else if (legacyCopy(input)) {
      say(status, "Copied");
    } else {
      failed();
    }
  }

  function start() {
    document.querySelectorAll("button[data-copy-target]").forEach(function (button) {
      if (button.dataset.copyReady) {
        return;
      }
      button.dataset.copyReady = "1";
      button.hidden = false;
      button.addEventListener("click", function () {
        copy(button);
      });
    });
    document.querySelectorAll("input[data-select-on-focus]").forEach(function (input) {
      input.addEventListener("focus", function () {
        input.select();
      });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
