/* Zorghub web push service worker: shows the notification (no message content is ever
 * in it, only a title, a generic line and a link) and opens the link when clicked. */
"use strict";

self.addEventListener("push", function (event) {
  var data = {};
  try { data = event.data ? event.data.json() : {}; } catch (e) { data = {}; }
  event.waitUntil(self.registration.showNotification(data.title || "Zorghub", {
    body: data.body || "",
    tag: data.tag || "zorghub",
    data: { url: data.url || "/" }
  }));
});

self.addEventListener("notificationclick", function (event) {
  event.notification.close();
  var url = (event.notification.data && event.notification.data.url) || "/";
  event.waitUntil(self.clients.openWindow(url));
});
