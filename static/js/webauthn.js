/* Plinto: WebAuthn ceremonies (security keys and passkeys) for the MFA pages. Vanilla JS, no library.

   A control carries data-webauthn="register" | "authenticate" | "login", data-options-url and
   data-verify-url, and optionally data-name-input / data-remember-input (ids of an input and a
   checkbox) and data-error (id of a hidden alert that receives error messages).
   The server answers JSON: options {ceremony_id, publicKey} (binary fields base64url, as py_webauthn
   writes them); verify {location} when done, or {detail[, location]} with an error status.
   CSRF: Django's token (the page's csrfmiddlewaretoken, else the csrftoken cookie) in X-CSRFToken. */
(function () {
  "use strict";

  // --- base64url <-> ArrayBuffer ---------------------------------------------------------------
  function base64urlToBuffer(value) {
    var base64 = String(value).replace(/-/g, "+").replace(/_/g, "/");
    var binary = window.atob(base64 + "===".slice((base64.length + 3) % 4));
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i += 1) {
      bytes[i] = binary.charCodeAt(i);
    }
    return bytes.buffer;
  }

  function bufferToBase64url(buffer) {
    var bytes = new Uint8Array(buffer);
    var binary = "";
    for (var i = 0; i < bytes.length; i += 1) {
      binary += String.fromCharCode(bytes[i]);
    }
    return window.btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  // --- HTTP --------------------------------------------------------------------------------------
  function csrfToken() {
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    if (input && input.value) {
      return input.value;
    }
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  function failure(message, location) {
    var error = new Error(message);
    error.location = location;
    return error;
  }

  function postJSON(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: {"Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": csrfToken()},
      body: JSON.stringify(body || {})
    }).then(function (response) {
      var isJSON = (response.headers.get("Content-Type") || "").indexOf("json") !== -1;
      if (!isJSON) {  // e.g. redirected to the sign-in page: the session is gone
        throw failure("Your session has ended. Sign in again.", response.redirected ? response.url : undefined);
      }
      return response.json().then(function (data) {
        if (!response.ok) {
          throw failure(data.detail || "Something went wrong (" + response.status + "). Try again.", data.location);
        }
        return data;
      });
    });
  }

  // --- options JSON -> the objects navigator.credentials takes, and back ---------------------------
  function descriptor(item) {
    return Object.assign({}, item, {id: base64urlToBuffer(item.id)});
  }

  function creationOptions(publicKey) {
    return Object.assign({}, publicKey, {
      challenge: base64urlToBuffer(publicKey.challenge),
      user: Object.assign({}, publicKey.user, {id: base64urlToBuffer(publicKey.user.id)}),
      excludeCredentials: (publicKey.excludeCredentials || []).map(descriptor)
    });
  }

  function requestOptions(publicKey) {
    return Object.assign({}, publicKey, {
      challenge: base64urlToBuffer(publicKey.challenge),
      allowCredentials: (publicKey.allowCredentials || []).map(descriptor)
    });
  }

  function credentialJSON(credential) {
    var response = credential.response;
    var json = {
      id: credential.id,
      rawId: bufferToBase64url(credential.rawId),
      type: credential.type,
      clientExtensionResults: credential.getClientExtensionResults ? credential.getClientExtensionResults() : {},
      response: {clientDataJSON: bufferToBase64url(response.clientDataJSON)}
    };
    if (credential.authenticatorAttachment) {
      json.authenticatorAttachment = credential.authenticatorAttachment;
    }
    if (response.attestationObject) {  // registration
      json.response.attestationObject = bufferToBase64url(response.attestationObject);
      json.response.transports = typeof response.getTransports === "function" ? response.getTransports() : [];
    } else {  // authentication
      json.response.authenticatorData = bufferToBase64url(response.authenticatorData);
      json.response.signature = bufferToBase64url(response.signature);
      json.response.userHandle = response.userHandle ? bufferToBase64url(response.userHandle) : null;
    }
    return json;
  }

  // --- the three ceremonies ----------------------------------------------------------------------
  function elementValue(id) {
    var element = id ? document.getElementById(id) : null;
    return element ? element.value.trim() : "";
  }

  function isChecked(id) {
    var element = id ? document.getElementById(id) : null;
    return Boolean(element && element.checked);
  }

  function nextParameter() {
    return new URLSearchParams(window.location.search).get("next") || "";
  }

  var ceremonies = {
    register: function (control) {
      return postJSON(control.dataset.optionsUrl).then(function (options) {
        return navigator.credentials.create({publicKey: creationOptions(options.publicKey)}).then(function (credential) {
          return postJSON(control.dataset.verifyUrl, {
            ceremony_id: options.ceremony_id,
            credential: credentialJSON(credential),
            name: elementValue(control.dataset.nameInput)
          });
        });
      });
    },
    authenticate: function (control) {
      return postJSON(control.dataset.optionsUrl).then(function (options) {
        return navigator.credentials.get({publicKey: requestOptions(options.publicKey)}).then(function (credential) {
          return postJSON(control.dataset.verifyUrl, {
            ceremony_id: options.ceremony_id,
            credential: credentialJSON(credential),
            remember: isChecked(control.dataset.rememberInput)
          });
        });
      });
    },
    login: function (control) {
      return postJSON(control.dataset.optionsUrl).then(function (options) {
        return navigator.credentials.get({publicKey: requestOptions(options.publicKey)}).then(function (credential) {
          return postJSON(control.dataset.verifyUrl, {
            ceremony_id: options.ceremony_id,
            credential: credentialJSON(credential),
            next: nextParameter()
          });
        });
      });
    }
  };

  // --- wiring --------------------------------------------------------------------------------------
  function describe(error) {
    switch (error && error.name) {
      case "NotAllowedError":
        return "The request was cancelled or timed out. Try again.";
      case "InvalidStateError":
        return "This security key or passkey is already registered.";
      case "SecurityError":
        return "This page's address cannot use security keys. Contact your administrator.";
      case "NotSupportedError":
        return "This security key or passkey does not support what is needed.";
      default:
        return (error && error.message) || "Something went wrong. Try again.";
    }
  }

  function showError(control, message) {
    var alert = control.dataset.error ? document.getElementById(control.dataset.error) : null;
    if (alert) {
      alert.textContent = message;
      alert.hidden = false;
    } else {
      window.alert(message);
    }
  }

  function clearError(control) {
    var alert = control.dataset.error ? document.getElementById(control.dataset.error) : null;
    if (alert) {
      alert.hidden = true;
      alert.textContent = "";
    }
  }

  function setBusy(control, busy) {
    control.setAttribute("aria-busy", busy ? "true" : "false");
    if (control.tagName === "BUTTON") {
      control.disabled = busy;
    } else {
      control.setAttribute("aria-disabled", busy ? "true" : "false");
    }
  }

  function supported() {
    return Boolean(window.PublicKeyCredential && navigator.credentials && window.fetch);
  }

  function start(event) {
    var control = event.currentTarget;
    var ceremony = ceremonies[control.dataset.webauthn];
    event.preventDefault();
    if (!ceremony || control.getAttribute("aria-busy") === "true") {
      return;
    }
    if (!supported()) {
      showError(control, "This browser cannot use security keys or passkeys.");
      return;
    }
    clearError(control);
    setBusy(control, true);
    ceremony(control).then(function (result) {
      window.location.assign(result.location || window.location.href);
    }).catch(function (error) {
      setBusy(control, false);
      if (error && error.location) {
        window.location.assign(error.location);
        return;
      }
      showError(control, describe(error));
    });
  }

  function init() {
    var controls = document.querySelectorAll("[data-webauthn]");
    for (var i = 0; i < controls.length; i += 1) {
      controls[i].addEventListener("click", start);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
}());
