// Starts ReDoc without an inline script; its style elements carry this script's CSP nonce.
(function () {
  // ReDoc's menu footer shows Redocly's logo from cdn.redoc.ly, which the page's policy (and an
  // offline machine) refuses: that image gets no source (api-redoc.css hides it). React sets an
  // image's source twice, as an attribute and as a property.
  const remote = (value) => String(value).startsWith("https://cdn.redoc.ly/");
  const setAttribute = Element.prototype.setAttribute;
  Element.prototype.setAttribute = function (name, value) {
    if (this instanceof HTMLImageElement && name === "src" && remote(value)) {
      return undefined;
    }
    return setAttribute.call(this, name, value);
  };
  const src = Object.getOwnPropertyDescriptor(HTMLImageElement.prototype, "src");
  Object.defineProperty(HTMLImageElement.prototype, "src", {
    ...src,
    set(value) {
      if (!remote(value)) {
        src.set.call(this, value);
      }
    },
  });

  const script = document.currentScript;
  const container = document.getElementById("redoc-container");
  window.Redoc.init(script.dataset.specUrl, {nonce: script.nonce}, container);
})();
