// BookShelf live updates: one connection per page, resumed by seq after every reconnect (docs/protocol.md).
// A WebSocket first; when it cannot connect (a proxy that strips upgrades) the page falls back to Server-Sent
// Events, whose own reconnect resumes every group through Last-Event-ID.
// - The list page (data-live-group="site", first page) shows new posts at the top, or "N new posts" when the
//   reader has scrolled down; every listed post's group (data-watch) keeps its counts live without counting the
//   reader as reading it.
// - A post's page (data-live-group="post-N") shows new comments, the like count, and how many are reading it.
// - Every page joins the site group and shows how many are online.
// Everything user-written is inserted as text, never as HTML.
const statusEl = document.getElementById('live-status');
const root = document.querySelector('[data-live-group], [data-watch]');

const BASE_DELAY_MS = 500;
const MAX_DELAY_MS = 30000;
const WS_FAILURES_BEFORE_SSE = 2;
const MAX_WATCHED = 28; // under the gateway's 32 groups per connection, with room for the page's own

function setStatus(state, text) {
  if (!statusEl) return;
  statusEl.dataset.state = state;
  statusEl.textContent = text ?? state;
}

// Times: "3 min ago", with the exact local time on hover; refreshed every 30 s.
const relative = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });
function relativeTime(date, now = Date.now()) {
  const seconds = Math.round((date.getTime() - now) / 1000);
  const abs = Math.abs(seconds);
  if (abs < 45) return 'just now';
  if (abs < 45 * 60) return relative.format(Math.round(seconds / 60), 'minute');
  if (abs < 22 * 3600) return relative.format(Math.round(seconds / 3600), 'hour');
  if (abs < 7 * 86400) return relative.format(Math.round(seconds / 86400), 'day');
  return date.toLocaleDateString(undefined, { year: 'numeric', month: 'short', day: 'numeric' });
}
function renderTimes(scope = document) {
  for (const el of scope.querySelectorAll('time[datetime]')) {
    const date = new Date(el.getAttribute('datetime'));
    if (Number.isNaN(date.getTime())) continue;
    el.textContent = relativeTime(date);
    el.title = date.toLocaleString();
  }
}
function timeElement(iso) {
  const el = document.createElement('time');
  el.setAttribute('datetime', iso ?? new Date().toISOString());
  renderTimes({ querySelectorAll: () => [el] });
  return el;
}
// <span class=...> of text and elements; attributes: ariaHidden, or data-* names.
function span(className, ...children) {
  const el = document.createElement('span');
  if (className) el.className = className;
  const last = children[children.length - 1];
  if (last && typeof last === 'object' && !(last instanceof Node)) {
    children.pop();
    for (const [key, value] of Object.entries(last)) {
      if (key === 'ariaHidden') el.setAttribute('aria-hidden', value); else el.dataset[key] = value;
    }
  }
  el.append(...children);
  return el;
}
function authorLink(name) {
  const link = document.createElement('a');
  link.className = 'author';
  link.href = `/authors/${encodeURIComponent(name ?? '')}`;
  link.textContent = name ?? '';
  return link;
}
renderTimes();
setInterval(renderTimes, 30000);

function showPresence(group, count) {
  for (const el of document.querySelectorAll(`[data-presence-of="${CSS.escape(group)}"]`)) {
    el.hidden = false;
    el.textContent = group === 'site' ? `${count} online` : `${count} reading now`;
  }
}

if (root) {
  const primary = root.dataset.liveGroup || null;
  const positions = new Map(); // group -> highest seq seen (from events and subscribed frames)
  if (primary) positions.set(primary, Number(root.dataset.lastSeq || 0));
  const watched = new Set((root.dataset.watch || '').split(',').filter(Boolean));
  const firstPage = root.dataset.firstPage !== 'false';
  const groups = [...new Set([primary, 'site'].filter(Boolean))];
  let transport = 'ws';
  let wsFailures = 0;
  let attempt = 0;
  let socket = null;
  let source = null;
  let retryTimer = null;
  let sseErrors = 0;
  const waiting = []; // new posts held back while the reader is scrolled down
  const newPostsButton = document.getElementById('new-posts');

  function postItem(msg) {
    const item = document.createElement('li');
    item.className = 'post new';
    item.dataset.id = String(msg.new_id);
    item.dataset.seq = String(msg.seq);
    const link = document.createElement('a');
    link.className = 'title';
    link.href = `/posts/${msg.new_id}`;
    link.textContent = msg.title ?? `Post ${msg.new_id}`;
    item.append(link);
    if (msg.excerpt) {
      const excerpt = document.createElement('p');
      excerpt.className = 'excerpt';
      excerpt.textContent = msg.excerpt;
      item.append(excerpt);
    }
    const meta = document.createElement('div');
    meta.className = 'meta';
    const likes = span('count likes-count', span(null, '♥', { ariaHidden: 'true' }), ' ', span('n', '0', { likes: '' }), span('visually-hidden', ' likes'));
    const comments = span('count comments-count', span('n', '0', { comments: '' }), ' ', span('word', 'comments'));
    meta.append('by ', authorLink(msg.author), ' · ', timeElement(msg.at), ' · ', likes, ' · ', comments);
    item.append(meta);
    return item;
  }

  function scrolledDown() {
    const list = document.getElementById('posts');
    return !!list && list.getBoundingClientRect().top < 0;
  }

  function showWaiting() {
    if (!newPostsButton) return;
    newPostsButton.hidden = waiting.length === 0;
    newPostsButton.textContent = waiting.length === 1 ? '1 new post' : `${waiting.length} new posts`;
  }

  function insertPosts(messages) {
    const list = document.getElementById('posts');
    if (!list) return null;
    document.getElementById('no-posts')?.remove();
    // messages are newest first: prepend the oldest first so the newest ends on top.
    let first = null;
    for (const msg of [...messages].reverse()) {
      if (list.querySelector(`li[data-id="${msg.new_id}"]`)) continue;
      const item = postItem(msg);
      list.prepend(item);
      first = item;
      watch(`post-${msg.new_id}`);
    }
    return first;
  }

  newPostsButton?.addEventListener('click', () => {
    const shown = insertPosts(waiting.splice(0));
    showWaiting();
    window.scrollTo({ top: 0 });
    if (shown) {
      shown.tabIndex = -1;
      shown.focus();
    }
  });

  // Counts of a listed post, from its group's events.
  function updateCounts(group, msg) {
    const item = document.querySelector(`#posts > li[data-id="${group.slice('post-'.length)}"]`);
    if (!item) return;
    if (msg.type === 'like') {
      item.querySelector('[data-likes]').textContent = String(msg.like_count);
    } else if (msg.type === 'comment') {
      const n = item.querySelector('[data-comments]');
      const count = Number(n.textContent) + 1;
      n.textContent = String(count);
      item.querySelector('.comments-count .word').textContent = count === 1 ? 'comment' : 'comments';
    }
  }

  // A post shown after the page opened: watch its group for counts too (WebSocket only; not counted as reading).
  function watch(group) {
    if (watched.has(group) || watched.size >= MAX_WATCHED) return;
    watched.add(group);
    if (transport === 'ws' && socket?.readyState === WebSocket.OPEN) {
      socket.send(JSON.stringify({ type: 'subscribe', group, counted: false }));
    }
  }

  function onEvent(msg) {
    if (msg.group === 'site' && msg.type === 'post') {
      if (primary !== 'site' || !firstPage) return;
      if (scrolledDown()) {
        if (!waiting.some((w) => w.new_id === msg.new_id)) waiting.unshift(msg);
        showWaiting();
      } else {
        insertPosts([msg]);
      }
      return;
    }
    if (msg.group === primary) {
      if (msg.type === 'comment') {
        const list = document.getElementById('comments');
        if (!list || list.querySelector(`li[data-id="${msg.comment_id}"]`)) return;
        const item = document.createElement('li');
        item.className = 'comment new';
        item.dataset.id = String(msg.comment_id);
        const text = document.createElement('span');
        text.className = 'text';
        text.textContent = msg.text ?? '';
        item.append(authorLink(msg.author), ' ', timeElement(msg.at), ' ', text);
        list.append(item);
      } else if (msg.type === 'like') {
        const count = document.getElementById('like-count');
        if (count) count.textContent = String(msg.like_count);
      }
      return;
    }
    if (watched.has(msg.group)) updateCounts(msg.group, msg);
  }

  function onMessage(data) {
    let msg;
    try { msg = JSON.parse(data); } catch { return; }
    if (typeof msg.group !== 'string') return;
    switch (msg.type) {
      case 'subscribed':
        positions.set(msg.group, Math.max(positions.get(msg.group) ?? 0, msg.last_seq));
        return;
      case 'reset':
        // The server cannot replay what we missed: reload the page's own list; a watched post's counts just go on.
        if (msg.group === primary) { location.reload(); return; }
        positions.set(msg.group, msg.last_seq);
        return;
      case 'presence':
        showPresence(msg.group, msg.count);
        return;
      case 'error':
        return;
      default:
        if (typeof msg.seq !== 'number' || msg.seq <= (positions.get(msg.group) ?? 0)) return; // never twice
        positions.set(msg.group, msg.seq);
        onEvent(msg);
    }
  }

  function query() {
    const params = new URLSearchParams();
    params.set('groups', groups.join(','));
    const resume = [...positions].filter(([g]) => groups.includes(g) || watched.has(g)).map(([g, s]) => `${g}:${s}`);
    if (resume.length) params.set('resume', resume.join(','));
    if (watched.size) params.set('uncounted', [...watched].join(','));
    params.set('presence', '1');
    return params.toString().replace(/%2C/g, ',').replace(/%3A/g, ':');
  }

  function retryLater() {
    if (!navigator.onLine) { setStatus('offline'); return; }
    // Exponential backoff with full jitter.
    const cap = Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** attempt);
    attempt += 1;
    setStatus('reconnecting');
    retryTimer = setTimeout(() => { retryTimer = null; connect(); }, Math.random() * cap);
  }

  function connectWebSocket() {
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    let opened = false;
    socket = new WebSocket(`${scheme}://${location.host}/ws/update_notice/?${query()}`);
    socket.onopen = () => {
      opened = true;
      attempt = 0;
      wsFailures = 0;
      document.documentElement.dataset.transport = 'ws';
      setStatus('connected', 'live');
    };
    socket.onmessage = (event) => onMessage(event.data);
    socket.onclose = () => {
      socket = null;
      if (!opened && ++wsFailures >= WS_FAILURES_BEFORE_SSE && 'EventSource' in window) {
        // The WebSocket never opened, twice: something between us and the gateway blocks it. Use SSE from now on.
        transport = 'sse';
        attempt = 0;
        connect();
        return;
      }
      retryLater();
    };
  }

  function connectEventSource() {
    source = new EventSource(`/sse/update_notice/?${query()}`);
    source.onopen = () => {
      attempt = 0;
      sseErrors = 0;
      document.documentElement.dataset.transport = 'sse';
      setStatus('connected', 'live');
    };
    source.onmessage = (event) => onMessage(event.data);
    source.onerror = () => {
      if (source.readyState === EventSource.CONNECTING && ++sseErrors < 3) {
        // The browser reconnects by itself (after the stream's retry: 1 s) and resumes every group through
        // Last-Event-ID: a stream the gateway ended, or one blip.
        setStatus('reconnecting');
        return;
      }
      // Refused for good, or the gateway stays unreachable: back off with jitter like the WebSocket (not every
      // client every second), resuming from the positions seen — the same as the last event's id.
      source.close();
      source = null;
      retryLater();
    };
  }

  function connect() {
    if (socket || source) return; // one connection per page
    setStatus(attempt === 0 ? 'connecting' : 'reconnecting');
    if (transport === 'sse') connectEventSource(); else connectWebSocket();
  }

  window.addEventListener('offline', () => setStatus('offline'));
  window.addEventListener('online', () => {
    if (retryTimer) { clearTimeout(retryTimer); retryTimer = null; }
    attempt = 0;
    connect();
  });
  connect();
}
