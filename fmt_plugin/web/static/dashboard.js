// fmt-plugin dashboard: the few interactions a server-rendered page needs.
// No inline script anywhere (the CSP forbids it): behaviour hangs on data- attributes.
"use strict";

(function () {
  // Patient search in the header: suggestions after two characters, POSTed (never in a URL).
  const input = document.getElementById("patient-search");
  const list = document.getElementById("patient-suggestions");
  if (input && list) {
    let pending = null;
    let active = -1;
    const show = (items) => {
      list.replaceChildren();
      active = -1;
      for (const item of items) {
        const li = document.createElement("li");
        const a = document.createElement("a");
        a.href = "/patients/" + encodeURIComponent(item.id);
        a.textContent = item.label;
        li.appendChild(a);
        list.appendChild(li);
      }
      list.hidden = items.length === 0;
    };
    const ask = async () => {
      const q = input.value.trim();
      if (q.length < 2) { show([]); return; }
      const response = await fetch(input.dataset.suggest, {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": input.dataset.csrf },
        body: JSON.stringify({ q: q }),
        credentials: "same-origin",
      });
      if (response.ok && input.value.trim() === q) { show(await response.json()); }
    };
    input.addEventListener("input", () => {
      clearTimeout(pending);
      pending = setTimeout(ask, 120);
    });
    input.addEventListener("keydown", (event) => {
      const links = list.querySelectorAll("a");
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        if (!links.length) return;
        event.preventDefault();
        active = (active + (event.key === "ArrowDown" ? 1 : links.length - 1)) % links.length;
        links.forEach((a, i) => a.classList.toggle("active", i === active));
      } else if (event.key === "Enter" && active >= 0 && links[active]) {
        event.preventDefault();
        window.location.href = links[active].href;
      } else if (event.key === "Escape") {
        show([]);
      }
    });
  }

  // Forms whose action cannot be undone ask first (data-confirm="Question ?").
  document.querySelectorAll("form[data-confirm]").forEach((form) => {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  });

  // "Tout sélectionner" checkboxes (data-select-all="name of the checkboxes").
  document.querySelectorAll("input[data-select-all]").forEach((box) => {
    box.addEventListener("change", () => {
      const name = box.dataset.selectAll;
      document.querySelectorAll('input[type="checkbox"][name="' + name + '"]').forEach((other) => {
        other.checked = box.checked;
      });
    });
  });
})();
