// Bulk CSV page: while a file uploads, the progress bar beside "Checking the file" fills up.
document.addEventListener("htmx:xhr:progress", (event) => {
  const bar = document.getElementById("bulk-upload-progress");
  if (bar && event.detail.lengthComputable) {
    bar.value = Math.round((event.detail.loaded / event.detail.total) * 100);
  }
});
