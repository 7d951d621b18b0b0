"""A Hub-compatible HTTP server for tests, on loopback: the endpoints `huggingface_hub` calls for what `novosky.hub`
uses (create_repo, the README check, preupload, LFS batch + upload + verify, the ndjson commit, refs, tags, commits,
revision info, tree listing, resolve HEAD/GET). State lives in memory; `faults` makes chosen downloads misbehave."""
import base64, hashlib, json, re, threading, time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit, parse_qs

LFS_SUFFIXES = (".onnx", ".pkl", ".npy", ".png", ".bin", ".parquet")   # as the Hub's default .gitattributes
GITATTRIBUTES = b"".join(f"*{s} filter=lfs diff=lfs merge=lfs -text\n".encode() for s in LFS_SUFFIXES)


def git_oid(data: bytes) -> str: return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
def sha256(data: bytes) -> str: return hashlib.sha256(data).hexdigest()
def is_lfs(path: str, size: int) -> bool: return path.endswith(LFS_SUFFIXES) or size > 10_000_000


class Repo:
    def __init__(self, repo_id, private):
        self.id, self.private = repo_id, private
        self.commits, self.branches, self.tags = {}, {}, {}
        self.branches["main"] = self.commit(None, {".gitattributes": GITATTRIBUTES}, "initial commit", "")

    def commit(self, parent, files, title, message) -> str:
        oid = hashlib.sha1(json.dumps([parent, sorted((p, sha256(b)) for p, b in files.items()), title, message,
                                       time.time_ns()]).encode()).hexdigest()
        self.commits[oid] = {"parent": parent, "files": dict(files), "title": title, "message": message,
                             "date": datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")}
        return oid

    def resolve(self, rev):
        rev = unquote(rev)
        if rev in self.branches: return self.branches[rev]
        if rev in self.tags: return self.tags[rev]
        if rev in self.commits: return rev
        return None

    def history(self, oid):
        out = []
        while oid is not None: out.append(oid); oid = self.commits[oid]["parent"]
        return out


class FakeHub:
    "Start with `with FakeHub() as hub:`; `hub.url` is the endpoint; `hub.token` the only token it accepts."
    def __init__(self, token="hf_fake_write_token"):
        self.token, self.repos, self.lfs, self.faults, self.log = token, {}, {}, {}, []
        self.lock = threading.Lock()
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True
            def log_message(self, *a): pass
            def do_GET(self): hub._dispatch(self, "GET")
            def do_HEAD(self): hub._dispatch(self, "HEAD")
            def do_POST(self): hub._dispatch(self, "POST")
            def do_PUT(self): hub._dispatch(self, "PUT")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    def __enter__(self): self.thread.start(); return self
    def __exit__(self, *exc): self.server.shutdown(); self.server.server_close()

    # ---- plumbing
    def _send(self, h, status, body=b"", headers=None, head=False):
        if isinstance(body, (dict, list)): body = json.dumps(body).encode(); headers = {"Content-Type": "application/json", **(headers or {})}
        h.send_response(status)
        for k, v in (headers or {}).items(): h.send_header(k, v)
        if "Content-Length" not in (headers or {}): h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        if not head and body: h.wfile.write(body)

    def _error(self, h, status, code, msg, head=False):
        self._send(h, status, {"error": msg}, {"X-Error-Code": code, "X-Error-Message": msg} if code else {"X-Error-Message": msg}, head)

    def _authed(self, h): return h.headers.get("Authorization") == f"Bearer {self.token}"

    def _body(self, h) -> bytes: return h.body

    def _read_body(self, h) -> bytes:
        "The whole request body, read before anything is answered (a keep-alive connection must not keep leftovers)."
        if h.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = b""
            while (n := int(h.rfile.readline().split(b";")[0].strip() or b"0", 16)):
                out += h.rfile.read(n); h.rfile.readline()
            h.rfile.readline()
            return out
        n = int(h.headers.get("Content-Length") or 0)
        return h.rfile.read(n) if n else b""

    def _dispatch(self, h, method):
        path = urlsplit(h.path).path
        h.body = self._read_body(h)
        self.log.append((method, unquote(path)))
        try:
            with self.lock: self._route(h, method, path, parse_qs(urlsplit(h.path).query))
        except BrokenPipeError: pass

    def _repo(self, h, ns, name, write=False, head=False):
        repo = self.repos.get(f"{ns}/{name}")
        if repo is None or ((repo.private or write) and not self._authed(h)):
            self._error(h, 401 if not self._authed(h) else 404, "RepoNotFound", "Repository not found", head); return None
        return repo

    # ---- routes
    def _route(self, h, method, path, q):
        if method == "POST" and path == "/api/repos/create": return self._create(h)
        if method == "POST" and path == "/api/validate-yaml": self._body(h); return self._send(h, 200, {"errors": [], "warnings": []})
        if method == "PUT" and (m := re.fullmatch(r"/lfs-upload/([0-9a-f]{64})", path)): return self._lfs_put(h, m[1])
        if method == "POST" and (m := re.fullmatch(r"/lfs-verify/([0-9a-f]{64})", path)):
            self._body(h); return self._send(h, 200 if m[1] in self.lfs else 404, {"success": m[1] in self.lfs})
        if method == "POST" and (m := re.fullmatch(r"/([^/]+)/([^/]+)\.git/info/lfs/objects/batch", path)): return self._batch(h, *m.groups())
        if m := re.fullmatch(r"/api/models/([^/]+)/([^/]+)/(preupload|commit|tag|refs|commits|revision|tree)(?:/([^/]+))?(?:/(.*))?", path):
            ns, name, verb, rev, sub = m.groups()
            repo = self._repo(h, ns, name, write=verb in ("preupload", "commit", "tag"))
            if repo is None: return
            return getattr(self, f"_{verb}")(h, repo, rev or "main", unquote(sub or ""), q)
        if method in ("GET", "HEAD") and (m := re.fullmatch(r"/([^/]+)/([^/]+)/resolve/([^/]+)/(.+)", path)):
            repo = self._repo(h, m[1], m[2], head=method == "HEAD")
            if repo is None: return
            return self._resolve(h, repo, m[3], unquote(m[4]), head=method == "HEAD")
        self._error(h, 404, None, f"no route {method} {path}")

    def _create(self, h):
        if not self._authed(h): return self._error(h, 401, None, "Invalid credentials in Authorization header")
        d = json.loads(self._body(h))
        rid = f"{d['organization']}/{d['name']}" if d.get("organization") else d["name"]
        url = f"{self.url}/{rid}"
        if rid in self.repos: return self._send(h, 409, {"error": "You already created this model repo", "url": url})
        self.repos[rid] = Repo(rid, d.get("visibility", "private") != "public")
        self._send(h, 200, {"url": url, "name": rid})

    def _preupload(self, h, repo, rev, sub, q):
        d = json.loads(self._body(h)); at = repo.resolve(rev); files = repo.commits[at]["files"] if at else {}
        out = []
        for f in d["files"]:
            mode = "lfs" if is_lfs(f["path"], f["size"]) else "regular"
            old = files.get(f["path"])
            oid = None if old is None else (sha256(old) if mode == "lfs" else git_oid(old))
            out.append({"path": f["path"], "uploadMode": mode, "shouldIgnore": False, "oid": oid})
        self._send(h, 200, {"files": out, "commitOid": at})

    def _batch(self, h, ns, name):
        if self._repo(h, ns, name, write=True) is None: return
        d = json.loads(self._body(h))
        objs = []
        for o in d["objects"]:
            e = {"oid": o["oid"], "size": o["size"], "authenticated": True}
            if o["oid"] not in self.lfs:
                e["actions"] = {"upload": {"href": f"{self.url}/lfs-upload/{o['oid']}"},
                                "verify": {"href": f"{self.url}/lfs-verify/{o['oid']}"}}
            objs.append(e)
        self._send(h, 200, {"transfer": "basic", "objects": objs}, {"Content-Type": "application/vnd.git-lfs+json"})

    def _lfs_put(self, h, oid):
        data = self._body(h)
        if sha256(data) != oid: return self._error(h, 400, None, "sha256 of the uploaded bytes differs from the object id")
        self.lfs[oid] = data; self._send(h, 200, b"")

    def _commit(self, h, repo, rev, sub, q):
        lines = [json.loads(l) for l in self._body(h).splitlines() if l.strip()]
        head = repo.branches.get(unquote(rev))
        if head is None: return self._error(h, 404, "RevisionNotFound", f"Invalid rev id: {rev}")
        files = dict(repo.commits[head]["files"]); title, message = "", ""
        for l in lines:
            k, v = l["key"], l["value"]
            if k == "header":
                title, message = v["summary"], v.get("description", "")
                if v.get("parentCommit") and v["parentCommit"] != head:
                    return self._error(h, 412, None, "A commit has happened since. Please refresh and try again.")
            elif k == "file": files[v["path"]] = base64.b64decode(v["content"])
            elif k == "lfsFile":
                if v["oid"] not in self.lfs: return self._error(h, 422, None, f"LFS object {v['oid']} was never uploaded")
                files[v["path"]] = self.lfs[v["oid"]]
            elif k == "deletedFile":
                if v["path"] not in files: return self._error(h, 404, "EntryNotFound", "A file with this name doesn't exist")
                del files[v["path"]]
            elif k == "deletedFolder":
                files = {p: b for p, b in files.items() if not p.startswith(v["path"].rstrip("/") + "/")}
            else: return self._error(h, 400, None, f"unknown commit operation {k}")
        oid = repo.commit(head, files, title, message); repo.branches[unquote(rev)] = oid
        self._send(h, 200, {"success": True, "commitOid": oid, "commitUrl": f"{self.url}/{repo.id}/commit/{oid}"})

    def _tag(self, h, repo, rev, sub, q):
        d = json.loads(self._body(h)); at = repo.resolve(rev)
        if at is None: return self._error(h, 404, "RevisionNotFound", f"Invalid rev id: {rev}")
        if d["tag"] in repo.tags or d["tag"] in repo.branches: return self._error(h, 409, None, f"Tag {d['tag']} already exists")
        repo.tags[d["tag"]] = at; self._send(h, 200, {})

    def _refs(self, h, repo, rev, sub, q):
        ref = lambda kind, n, o: {"name": n, "ref": f"refs/{kind}/{n}", "targetCommit": o}
        self._send(h, 200, {"branches": [ref("heads", n, o) for n, o in repo.branches.items()], "converts": [],
                            "tags": [ref("tags", n, o) for n, o in repo.tags.items()], "pullRequests": []})

    def _commits(self, h, repo, rev, sub, q):
        at = repo.resolve(rev)
        if at is None: return self._error(h, 404, "RevisionNotFound", f"Invalid rev id: {rev}")
        self._send(h, 200, [{"id": o, "authors": [{"user": "novosky"}], "date": repo.commits[o]["date"],
                             "title": repo.commits[o]["title"], "message": repo.commits[o]["message"]} for o in repo.history(at)])

    def _revision(self, h, repo, rev, sub, q):
        at = repo.resolve(rev)
        if at is None: return self._error(h, 404, "RevisionNotFound", f"Invalid rev id: {rev}")
        self._send(h, 200, {"id": repo.id, "sha": at, "private": repo.private, "lastModified": repo.commits[at]["date"],
                            "siblings": [{"rfilename": p} for p in sorted(repo.commits[at]["files"])]})

    def _tree(self, h, repo, rev, sub, q):
        at = repo.resolve(rev)
        if at is None: return self._error(h, 404, "RevisionNotFound", f"Invalid rev id: {rev}")
        out = []
        for p, b in sorted(repo.commits[at]["files"].items()):
            if sub and not p.startswith(sub.rstrip("/") + "/"): continue
            e = {"type": "file", "path": p, "size": len(b), "oid": git_oid(b)}
            if is_lfs(p, len(b)): e["lfs"] = {"oid": sha256(b), "size": len(b), "pointerSize": 134}
            out.append(e)
        self._send(h, 200, out)

    def _resolve(self, h, repo, rev, path, head):
        at = repo.resolve(rev)
        if at is None: return self._error(h, 404, "RevisionNotFound", f"Invalid rev id: {rev}", head)
        files = repo.commits[at]["files"]
        fault = self.faults.get(path)
        if path not in files or fault == "missing":
            return self._send(h, 404, {"error": "Entry not found"}, {"X-Error-Code": "EntryNotFound", "X-Repo-Commit": at}, head)
        data = files[path]; lfs = is_lfs(path, len(data))
        etag = sha256(data) if lfs else git_oid(data)
        hdr = {"X-Repo-Commit": at, "ETag": f'"{etag}"', "Accept-Ranges": "bytes", "Content-Type": "application/octet-stream"}
        if lfs: hdr.update({"X-Linked-Etag": f'"{etag}"', "X-Linked-Size": str(len(data))})
        if head: return self._send(h, 200, b"", {**hdr, "Content-Length": str(len(data))}, head=True)
        if fault == "corrupt": data = data[:-1] + bytes([data[-1] ^ 0xFF])       # same size, one byte changed
        elif fault == "short": data = data[: len(data) // 2]                      # a complete response of half the file
        rng = h.headers.get("Range")
        if rng and (m := re.fullmatch(r"bytes=(\d+)-", rng)):
            start = int(m[1]); part = data[start:]
            return self._send(h, 206, part, {**hdr, "Content-Range": f"bytes {start}-{len(data) - 1}/{len(data)}"})
        self._send(h, 200, data, hdr)
