// One /ws connection for the whole page: authenticates with a first message (never a URL),
// subscribes every channel the page follows, keeps the last seq of each and resumes from it after
// a reconnect (no gap, no duplicate). Falls back to polling the page's reload functions while the
// socket cannot be opened.
const BACKOFF = [500, 1000, 2000, 4000, 8000];
const POLL_AFTER_FAILURES = 3;
const POLL_MS = 10000;

export class LiveSocket {
  constructor(onState) {
    this.onState = onState;
    this.handlers = new Map(); // channel -> [{event, reload}]
    this.seq = new Map(); // channel -> last seq delivered
    this.stats = { events: 0, duplicates: 0, resyncs: 0, reconnects: 0, lags: [], channels: {} };
    this.failures = 0;
    this.suspended = false;
    this.ws = null;
    this.pollTimer = null;
  }

  // handler(event) for each event; reload() when events were lost (or while polling)
  on(channel, handler, reload = null) {
    const list = this.handlers.get(channel) || [];
    list.push({ handler, reload });
    this.handlers.set(channel, list);
    if (list.length === 1 && this.ready) this.subscribe([channel]);
  }

  connect() {
    this.suspended = false;
    if (this.ws && this.ws.readyState <= WebSocket.OPEN) return;
    this.ready = false;
    this.setState(this.failures ? "reconnecting" : "connecting");
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(`${scheme}://${location.host}/ws`);
    this.ws = ws;
    ws.addEventListener("open", () => ws.send(JSON.stringify({ type: "auth", token: sessionStorage.getItem("quarkbot.token") })));
    ws.addEventListener("message", (message) => this.receive(JSON.parse(message.data)));
    ws.addEventListener("close", (event) => this.closed(ws, event));
  }

  // Close the socket and stay closed until connect() (tests and the bench use it).
  suspend() {
    this.suspended = true;
    if (this.ws) this.ws.close();
    this.setState("offline");
  }

  setState(state) {
    this.state = state;
    this.onState(state);
  }

  subscribe(channels) {
    const resume = {};
    for (const channel of channels) if (this.seq.has(channel)) resume[channel] = this.seq.get(channel);
    this.ws.send(JSON.stringify({ type: "subscribe", channels, resume }));
  }

  receive(message) {
    if (message.type === "welcome") {
      this.ready = true;
      this.failures = 0;
      this.stopPolling();
      this.setState("live");
      if (this.handlers.size) this.subscribe([...this.handlers.keys()]);
      // a channel that had no event before the drop has no seq to resume from: reload it
      if (this.opened) for (const channel of this.handlers.keys()) if (!this.seq.has(channel)) this.reload(channel);
      this.opened = true;
      return;
    }
    if (message.type === "resync_required") { this.stats.resyncs += 1; this.reload(message.channel); return; }
    if (message.seq === undefined || !message.channel) return;
    const last = this.seq.get(message.channel);
    if (last !== undefined && message.seq <= last) { this.stats.duplicates += 1; return; }
    this.seq.set(message.channel, message.seq);
    this.stats.events += 1;
    this.stats.channels[message.channel] = (this.stats.channels[message.channel] || 0) + 1;
    // publication to delivery, ms (the bench reads the last 2,000)
    if (message.ts) this.stats.lags.push(Date.now() - Date.parse(message.ts));
    if (this.stats.lags.length > 2000) this.stats.lags.shift();
    for (const { handler } of this.handlers.get(message.channel) || []) {
      try { handler(message); } catch (error) { console.error(error); }
    }
  }

  reload(channel) {
    for (const { reload } of this.handlers.get(channel) || []) if (reload) reload();
  }

  closed(ws, event) {
    if (ws !== this.ws) return;
    this.ready = false;
    if (this.suspended) return;
    if (event.code === 1008) { this.setState("signed out"); return; }
    this.failures += 1;
    this.stats.reconnects += 1;
    if (this.failures >= POLL_AFTER_FAILURES) this.startPolling();
    else this.setState("reconnecting");
    const delay = BACKOFF[Math.min(this.failures - 1, BACKOFF.length - 1)];
    setTimeout(() => { if (!this.suspended) this.connect(); }, delay);
  }

  startPolling() {
    this.setState("polling");
    if (this.pollTimer) return;
    this.pollTimer = setInterval(() => { for (const channel of this.handlers.keys()) this.reload(channel); }, POLL_MS);
  }

  stopPolling() {
    clearInterval(this.pollTimer);
    this.pollTimer = null;
  }
}
