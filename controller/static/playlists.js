// Playlist editor: reorder the items in the page (drag and drop with a mouse, or the up/down buttons,
// which also work with the keyboard and on a phone), remove one, and say what happened in the
// aria-live status line. The order is the order of the hidden "entry" fields, so saving the form
// saves it. Without this script the same buttons submit the form and the server does the move.
(() => {
  "use strict";
  const list = document.getElementById("playlist-items");
  const status = document.getElementById("playlist-status");
  const total = document.getElementById("playlist-total");
  if (!list || !status) return;

  const items = () => Array.from(list.querySelectorAll(":scope > li.playlist-item"));
  const title = (li) => li.querySelector(".label").textContent.trim();
  const say = (text) => {
    status.textContent = "";
    // A fresh text node each time, so screen readers announce the same words twice in a row too.
    window.requestAnimationFrame(() => { status.textContent = text; });
  };
  const clock = (ms) => {
    const all = Math.round(ms / 1000);
    const h = Math.floor(all / 3600), m = Math.floor((all % 3600) / 60), s = all % 60;
    const pad = (n) => String(n).padStart(2, "0");
    return h ? `${h}:${pad(m)}:${pad(s)}` : `${m}:${pad(s)}`;
  };

  // Positions, the no-script button values and the total follow the new order.
  const renumber = () => {
    let sum = 0;
    items().forEach((li, index) => {
      li.querySelector(".pos").textContent = `${index + 1}.`;
      li.querySelectorAll("button[data-move]").forEach((button) => {
        button.value = `${button.dataset.move}-${index}`;
      });
      sum += Number(li.dataset.ms || 0);
    });
    if (total) total.textContent = clock(sum);
  };
  const moved = (li) => {
    const all = items();
    say(list.dataset.moved
      .replace("{title}", title(li))
      .replace("{pos}", String(all.indexOf(li) + 1))
      .replace("{n}", String(all.length)));
  };

  list.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-move]");
    if (!button) return;
    event.preventDefault();
    const li = button.closest("li");
    const action = button.dataset.move;
    if (action === "remove") {
      const next = li.nextElementSibling || li.previousElementSibling;
      const name = title(li);
      li.remove();
      renumber();
      say(list.dataset.removed.replace("{title}", name));
      const focus = next && next.querySelector(`button[data-move="remove"]`);
      if (focus) focus.focus();
      return;
    }
    if (action === "up" && li.previousElementSibling) {
      list.insertBefore(li, li.previousElementSibling);
    } else if (action === "down" && li.nextElementSibling) {
      list.insertBefore(li.nextElementSibling, li);
    }
    renumber();
    button.focus(); // the button moved with its item: keep the keyboard where it was
    moved(li);
  });

  // Native drag and drop (mouse); touch screens use the buttons.
  let dragged = null;
  list.addEventListener("dragstart", (event) => {
    dragged = event.target.closest("li.playlist-item");
    if (!dragged) return;
    dragged.classList.add("dragging");
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", title(dragged));
  });
  list.addEventListener("dragover", (event) => {
    if (!dragged) return;
    event.preventDefault();
    const over = event.target.closest("li.playlist-item");
    if (!over || over === dragged) return;
    const box = over.getBoundingClientRect();
    const after = event.clientY > box.top + box.height / 2;
    list.insertBefore(dragged, after ? over.nextElementSibling : over);
  });
  list.addEventListener("drop", (event) => event.preventDefault());
  list.addEventListener("dragend", () => {
    if (!dragged) return;
    dragged.classList.remove("dragging");
    renumber();
    moved(dragged);
    dragged = null;
  });
})();
