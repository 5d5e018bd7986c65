// Behaviour the pages declare with data- attributes: no inline script (the Content-Security-Policy forbids it).
// Every page works without it; this makes them nicer.
(function () {
  "use strict";

  // <select data-autosubmit>: submit its form on change.
  document.addEventListener("change", (event) => {
    const field = event.target.closest("[data-autosubmit]");
    if (field && field.form) field.form.requestSubmit();
  });

  // <form data-confirm="Question?">: ask before submitting.
  document.addEventListener("submit", (event) => {
    const form = event.target.closest("form[data-confirm]");
    if (form && !window.confirm(form.dataset.confirm)) event.preventDefault();
  });

  // Lists keep their filters in the URL, only the non-empty ones (reload, bookmarks and shared links give the
  // same rows): HTMX GETs drop empty parameters before they leave.
  document.addEventListener("htmx:configRequest", (event) => {
    if (event.detail.verb !== "get") return;
    const data = event.detail.formData;
    if (!data) return;
    for (const key of Array.from(new Set(data.keys()))) {
      if (data.getAll(key).every((value) => typeof value === "string" && value.trim() === "")) data.delete(key);
    }
  });

  // Phones: the filters start folded (<details data-collapse-narrow open>); wider screens keep them open.
  function foldFilters(root) {
    if (!window.matchMedia("(max-width: 700px)").matches) return;
    root.querySelectorAll("details[data-collapse-narrow][open]").forEach((d) => d.removeAttribute("open"));
  }

  // Recordings. The call page's <audio data-recording> and the list rows' compact players ([data-player]) play
  // the portal's recording route; when it cannot (no budget left, CallRail refused), the player says why.
  function explain(audio, holder) {
    const note = holder && holder.querySelector(".recording-error");
    if (!note || !audio.currentSrc && !audio.src) return;
    fetch(audio.currentSrc || audio.src, { headers: { Range: "bytes=0-0" }, credentials: "same-origin" })
      .then((response) => (response.ok ? "" : response.text()))
      .then((text) => {
        note.textContent = text || "The recording could not be played.";
        note.hidden = false;
      })
      .catch(() => {
        note.textContent = "The recording could not be loaded.";
        note.hidden = false;
      });
  }
  document.addEventListener("error", (event) => {
    const audio = event.target;
    if (!(audio instanceof HTMLMediaElement)) return;
    const holder = audio.closest(".recording, [data-player]");
    if (holder) {
      holder.classList.remove("playing");
      explain(audio, holder);
    }
  }, true);

  function clockTime(seconds) {
    if (!isFinite(seconds)) return "";
    const s = Math.floor(seconds);
    return Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
  }
  function stopOthers(except) {
    document.querySelectorAll("audio").forEach((audio) => { if (audio !== except && !audio.paused) audio.pause(); });
  }
  document.addEventListener("play", (event) => {
    if (event.target instanceof HTMLMediaElement) stopOthers(event.target);
  }, true);

  document.addEventListener("click", (event) => {
    const button = event.target.closest("[data-player] .play");
    if (!button) return;
    event.preventDefault();
    const player = button.closest("[data-player]");
    let audio = player.querySelector("audio");
    if (!audio) {
      audio = document.createElement("audio");
      audio.preload = "none";
      audio.src = button.getAttribute("href");
      const time = player.querySelector(".player-time");
      const length = time ? time.dataset.length : "";
      audio.addEventListener("timeupdate", () => {
        if (time) time.textContent = clockTime(audio.currentTime) + (length ? " / " + length : "");
      });
      audio.addEventListener("pause", () => { player.classList.remove("playing"); button.textContent = "▶"; });
      audio.addEventListener("playing", () => { player.classList.add("playing"); button.textContent = "❚❚"; });
      audio.addEventListener("ended", () => { if (time) time.textContent = length; });
      player.appendChild(audio);
    }
    const note = player.querySelector(".recording-error");
    if (note) note.hidden = true;
    if (audio.paused) {
      audio.play().catch(() => {});
      button.setAttribute("aria-label", "Pause the recording");
    } else {
      audio.pause();
      button.setAttribute("aria-label", "Play the recording");
    }
  });

  // Forms with a role choice (invitations, members): company choices are for clients only.
  function syncRoleFields(root) {
    root.querySelectorAll("form").forEach((form) => {
      const role = form.querySelector("select[name=role]");
      const companies = form.querySelector(".field[data-field=companies]");
      if (!role || !companies) return;
      companies.hidden = role.value !== "client";
    });
  }
  document.addEventListener("change", (event) => {
    if (event.target.matches("select[name=role]")) syncRoleFields(document);
  });

  // Tag picker: typing filters the tag list (the completion); Enter ticks the one tag left.
  document.addEventListener("input", (event) => {
    const search = event.target.closest("[data-tag-search]");
    if (!search) return;
    const picker = search.closest("[data-tag-picker]");
    const words = search.value.trim().toLowerCase();
    picker.querySelectorAll(".tag-option").forEach((option) => {
      option.hidden = words !== "" && !option.dataset.name.includes(words);
    });
    picker.querySelectorAll("fieldset").forEach((group) => {
      group.hidden = !group.querySelector(".tag-option:not([hidden])");
    });
  });
  document.addEventListener("keydown", (event) => {
    const search = event.target.closest("[data-tag-search]");
    if (!search || event.key !== "Enter") return;
    event.preventDefault();
    const picker = search.closest("[data-tag-picker]");
    const shown = Array.from(picker.querySelectorAll(".tag-option:not([hidden]) input:not(:disabled)"));
    if (shown.length === 1) {
      shown[0].checked = true;
      search.value = "";
      search.dispatchEvent(new Event("input", { bubbles: true }));
    }
  });

  // <button data-copy="element-id">: copies that element's text (an authorisation link) to the clipboard.
  document.addEventListener("click", (event) => {
    const button = event.target.closest("[data-copy]");
    const source = button && document.getElementById(button.dataset.copy);
    if (source && navigator.clipboard) {
      navigator.clipboard.writeText(source.value || source.textContent.trim()).then(() => {
        button.textContent = "Copied";
      });
    }
  });

  function ready(root) {
    foldFilters(root);
    syncRoleFields(root);
  }
  document.addEventListener("DOMContentLoaded", () => ready(document));
  document.addEventListener("htmx:load", (event) => ready(event.target));
})();
