// Photos that arrive before the page's Python UI (app/ui/main.py) is wired are never lost:
// until then, a drop or paste anywhere on the page goes into the file input; and a photo
// dropped beside the drop zone is taken too, never opened by the browser in the app's place. When the UI wires itself it takes
// whatever the file input holds, like a file chosen early. `giveToPage` is also how photos
// from the system reach the page (static/offline.js).
//
// Loaded as a module by index.html; imports nothing.

const dropZone = document.getElementById("drop-zone");
const fileInput = document.getElementById("file-input");

const starting = () => dropZone.classList.contains("booting");

// Hand `files` to the page as if the user had chosen them in the file dialog.
export function giveToPage(files) {
  if (!files || !files.length) return;
  const transfer = new DataTransfer();
  for (const file of files) transfer.items.add(file);
  fileInput.files = transfer.files;
  fileInput.dispatchEvent(new Event("change", { bubbles: true }));
}

// Ours to handle: everything while the UI starts, and afterwards a drop outside the drop
// zone (app/ui/main.py handles the zone itself).
const ours = (event) => starting() || !dropZone.contains(event.target);

addEventListener("dragover", (event) => {
  if (ours(event)) event.preventDefault();   // allow the drop (else the browser opens the file)
});
addEventListener("drop", (event) => {
  if (!ours(event)) return;
  event.preventDefault();
  giveToPage(event.dataTransfer.files);
});
addEventListener("paste", (event) => {
  if (starting() && event.clipboardData && event.clipboardData.files.length) {
    event.preventDefault();
    giveToPage(event.clipboardData.files);
  }
});
