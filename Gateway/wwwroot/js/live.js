// BookShelf live updates: one WebSocket per page, resumed by seq after every reconnect.
// The list page (data-live-group="site") shows new posts at the top; a post's page (data-live-group="post-N")
// shows new comments and like counts. Everything user-written is inserted as text, never as HTML.
const statusEl = document.getElementById('live-status');
const root = document.querySelector('[data-live-group]');

const BASE_DELAY_MS = 500;
const MAX_DELAY_MS = 30000;
let attempt = 0;
let socket = null;

function setStatus(state, text) {
  if (!statusEl) return;
  statusEl.dataset.state = state;
  statusEl.textContent = text ?? state;
}

if (root) {
  const group = root.dataset.liveGroup;
  let lastSeq = Number(root.dataset.lastSeq || 0);
  // A page of older posts does not grow at the top.
  const live = root.dataset.firstPage !== 'false';

  const handlers = {
    post(msg) {
      if (!live) return;
      const list = document.getElementById('posts');
      if (!list || list.querySelector(`li[data-id="${msg.new_id}"]`)) return;
      document.getElementById('no-posts')?.remove();
      const item = document.createElement('li');
      item.className = 'post new';
      item.dataset.id = String(msg.new_id);
      item.dataset.seq = String(msg.seq);
      const link = document.createElement('a');
      link.className = 'title';
      link.href = `/posts/${msg.new_id}`;
      link.textContent = msg.title ?? `Post ${msg.new_id}`;
      const meta = document.createElement('div');
      meta.className = 'meta';
      meta.append('by ');
      const author = document.createElement('span');
      author.className = 'author';
      author.textContent = msg.author ?? '';
      meta.append(author, ' · just now');
      item.append(link, meta);
      list.prepend(item);
    },
    comment(msg) {
      const list = document.getElementById('comments');
      if (!list || list.querySelector(`li[data-id="${msg.comment_id}"]`)) return;
      const item = document.createElement('li');
      item.className = 'comment new';
      item.dataset.id = String(msg.comment_id);
      const author = document.createElement('span');
      author.className = 'author';
      author.textContent = msg.author ?? '';
      const text = document.createElement('span');
      text.className = 'text';
      text.textContent = msg.text ?? '';
      item.append(author, ' ', text);
      list.append(item);
    },
    like(msg) {
      const count = document.getElementById('like-count');
      if (count) count.textContent = String(msg.like_count);
    },
  };

  function connect() {
    setStatus(attempt === 0 ? 'connecting' : 'reconnecting');
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    const url = `${scheme}://${location.host}/ws/update_notice/?groups=${encodeURIComponent(group)}&resume=${encodeURIComponent(`${group}:${lastSeq}`)}`;
    socket = new WebSocket(url);
    socket.onopen = () => {
      attempt = 0;
      setStatus('connected', 'live');
    };
    socket.onmessage = (event) => {
      let msg;
      try { msg = JSON.parse(event.data); } catch { return; }
      if (msg.group !== group) return;
      if (msg.type === 'subscribed') {
        lastSeq = Math.max(lastSeq, msg.last_seq);
        return;
      }
      if (msg.type === 'reset') {
        // The server cannot replay what we missed: reload to get the current page.
        location.reload();
        return;
      }
      if (typeof msg.seq !== 'number' || msg.seq <= lastSeq) return; // never twice
      lastSeq = msg.seq;
      handlers[msg.type]?.(msg);
    };
    socket.onclose = () => {
      socket = null;
      if (!navigator.onLine) {
        setStatus('offline');
        return;
      }
      // Exponential backoff with full jitter.
      const cap = Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** attempt);
      attempt += 1;
      setStatus('reconnecting');
      setTimeout(connect, Math.random() * cap);
    };
  }

  window.addEventListener('offline', () => setStatus('offline'));
  window.addEventListener('online', () => { if (!socket) { attempt = 0; connect(); } });
  connect();
}
