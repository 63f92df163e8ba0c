// On a narrow window the header's navigation collapses behind a "Menu" button
// (portal.css hides #site-menu there unless the header is .menu-open). Without this
// script the button stays hidden and the navigation is always shown.
document.addEventListener("DOMContentLoaded", () => {
  const header = document.querySelector("header.site");
  const button = header && header.querySelector(".menu-toggle");
  if (!button) return;
  header.classList.add("menu-collapsible");
  button.hidden = false;
  button.addEventListener("click", () => {
    const open = button.getAttribute("aria-expanded") !== "true";
    button.setAttribute("aria-expanded", String(open));
    header.classList.toggle("menu-open", open);
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && header.classList.contains("menu-open")) {
      button.setAttribute("aria-expanded", "false");
      header.classList.remove("menu-open");
      button.focus();
    }
  });
});
