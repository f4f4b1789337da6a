// Every photo dropped or pasted reaches the page, even before the page's Python UI
// (app/ui/main.py) is wired: a drop anywhere on the page (a folder is opened, its images
// taken in order), and a paste while starting, go into the file input. When the UI wires
// itself it takes whatever the file input holds, like files chosen early; afterwards each
// change of the input is a pick. A drop that holds no file (an image dragged from another
// site is a link) is reported to the page as "cutout:not-a-file". `giveToPage` is also how
// photos from the system reach the page (static/offline.js).
//
// Loaded as a module by index.html; imports nothing.

const dropZone = document.getElementById("drop-zone");
const fileInput = document.getElementById("file-input");

const starting = () => dropZone.classList.contains("booting");

// What a folder may hold that is worth trying: images by type, or by name when the
// system gives no type. Other files in a folder (notes, .DS_Store) are left out.
const IMAGE_NAME = /\.(jpe?g|jfif|png|webp|gif|bmp|tiff?|heic|heif|avif)$/i;
const isImage = (file) => file.type.startsWith("image/") || (!file.type && IMAGE_NAME.test(file.name));

// Hand `files` to the page as if the user had chosen them in the file dialog.
export function giveToPage(files) {
  if (!files || !files.length) return;
  const transfer = new DataTransfer();
  for (const file of files) transfer.items.add(file);
  fileInput.files = transfer.files;
  fileInput.dispatchEvent(new Event("change", { bubbles: true }));
}

// The files of a folder entry and its sub-folders, in name order.
async function filesIn(entry) {
  if (entry.isFile) {
    const file = await new Promise((resolve, reject) => entry.file(resolve, reject));
    return isImage(file) ? [file] : [];
  }
  const reader = entry.createReader();
  const entries = [];
  for (;;) {
    const batch = await new Promise((resolve, reject) => reader.readEntries(resolve, reject));
    if (!batch.length) break;
    entries.push(...batch);
  }
  entries.sort((a, b) => a.name.localeCompare(b.name, undefined, { numeric: true }));
  const files = [];
  for (const child of entries) files.push(...(await filesIn(child)));
  return files;
}

// The dropped files, folders opened. Entries must be taken during the drop event itself.
function takeDrop(transfer) {
  const entries = [...(transfer.items || [])]
    .filter((item) => item.kind === "file" && item.webkitGetAsEntry)
    .map((item) => item.webkitGetAsEntry())
    .filter(Boolean);
  if (!entries.some((entry) => entry.isDirectory)) {
    if (transfer.files.length) giveToPage(transfer.files);
    else if (transfer.types.includes("text/uri-list") || transfer.types.includes("text/html")) {
      document.dispatchEvent(new CustomEvent("cutout:not-a-file"));
    }
    return;
  }
  Promise.all(entries.map(filesIn)).then((lists) => giveToPage(lists.flat()));
}

addEventListener("dragover", (event) => event.preventDefault());   // allow the drop anywhere
addEventListener("drop", (event) => {
  event.preventDefault();              // never let the browser open the file in the app's place
  takeDrop(event.dataTransfer);
});
addEventListener("paste", (event) => {
  if (starting() && event.clipboardData && event.clipboardData.files.length) {
    event.preventDefault();
    giveToPage(event.clipboardData.files);
  }
});
