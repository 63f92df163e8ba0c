// The experiment form: show the arms' weight total as it is typed, and say when it is not
// 100 %. The server checks the same rule (approvals.experiment_forms.ExperimentForm.clean).
(function () {
  "use strict";
  function start() {
    var form = document.querySelector("form.experiment-form");
    if (!form) return;
    var output = form.querySelector("[data-weight-total]");
    var inputs = form.querySelectorAll("input[name$='_weight']");
    function update() {
      var total = 0;
      inputs.forEach(function (input) {
        var value = parseInt(input.value, 10);
        if (!isNaN(value)) total += value;
      });
      output.textContent = "Total: " + total + " %" + (total === 100 ? "" : " (must be 100 %)");
      output.classList.toggle("weight-off", total !== 100);
    }
    inputs.forEach(function (input) { input.addEventListener("input", update); });
    update();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
