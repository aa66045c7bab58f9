// Filters for the plan page: by account and by status (a resource is shown when any of its
// controls has that status). The page is complete without this script; it only hides.
// `#account=…&status=…` presets the filters and is kept in step with them.
(function () {
  "use strict";
  const plan = JSON.parse(document.getElementById("plan-data").textContent);
  const sections = Array.from(document.querySelectorAll("section.res"));
  // The page and its embedded plan must agree, or the page is not the plan.
  if (plan !== null && sections.length !== plan.resources.length) {
    throw new Error("the page shows " + sections.length + " resources, the plan has " + plan.resources.length);
  }
  const account = document.getElementById("f-account");
  const status = document.getElementById("f-status");
  const shown = document.getElementById("f-shown");

  function choose(select, value) {
    const known = Array.from(select.options).some(function (o) { return o.value === value; });
    select.value = known ? value : "";
  }

  function fromHash() {
    const params = new URLSearchParams(location.hash.replace(/^#/, ""));
    choose(account, params.get("account") || "");
    choose(status, params.get("status") || "");
  }

  function toHash() {
    const params = new URLSearchParams();
    if (account.value) params.set("account", account.value);
    if (status.value) params.set("status", status.value);
    const hash = params.toString();
    if (hash !== location.hash.replace(/^#/, "")) location.replace("#" + hash);
  }

  function filter() {
    let n = 0;
    for (const section of sections) {
      const statuses = section.dataset.statuses.split(" ");
      const visible = (!account.value || section.dataset.account === account.value) &&
        (!status.value || statuses.includes(status.value));
      section.hidden = !visible;
      if (visible) n += 1;
    }
    shown.textContent = "showing " + n + " of " + sections.length + " resources";
  }

  function changed() {
    filter();
    toHash();
  }

  account.addEventListener("change", changed);
  status.addEventListener("change", changed);
  window.addEventListener("hashchange", function () { fromHash(); filter(); });
  for (const cell of document.querySelectorAll(".hm .cell[data-account]")) {
    const pick = function () {
      choose(account, cell.dataset.account);
      choose(status, cell.dataset.worst);
      changed();
      document.getElementById("filters").scrollIntoView({ behavior: "smooth" });
    };
    cell.addEventListener("click", pick);
    cell.addEventListener("keydown", function (e) { if (e.key === "Enter") pick(); });
  }
  if (sections.length > 0) {
    document.getElementById("filters").hidden = false;
    for (const el of document.querySelectorAll(".js-only")) el.hidden = false;
  }
  fromHash();
  filter();
  document.body.dataset.ready = "1";
})();
