// Bulk selection on resource lists: "select all on this page" and a count of the selected rows.
// Delegated on the document, so it keeps working after HTMX swaps the list region. Without JS the
// "all on this page" / "all matching" scopes of the action bar do the same.
(function () {
  function update(form) {
    var boxes = form.querySelectorAll("input.bulk-row");
    var n = 0;
    boxes.forEach(function (b) { if (b.checked) n++; });
    var all = form.querySelector("input.bulk-all");
    if (all) { all.checked = n > 0 && n === boxes.length; all.indeterminate = n > 0 && n < boxes.length; }
    var label = form.querySelector(".bulk-selected");
    if (label) label.textContent = n ? n + " selected" : "";
    var scope = form.querySelector("select[name=scope]");
    if (scope && n && scope.value !== "selected" && scope.dataset.touched !== "1") scope.value = "selected";
  }
  document.addEventListener("change", function (event) {
    var target = event.target;
    var form = target.closest && target.closest("#bulk-form");
    if (!form) return;
    if (target.classList.contains("bulk-all")) {
      form.querySelectorAll("input.bulk-row").forEach(function (b) { b.checked = target.checked; });
    }
    if (target.name === "scope") target.dataset.touched = "1";
    update(form);
  });
})();
