"""A re-creation of the seed prototype's backend, for side-by-side benchmarks.

Written from the seed README's description (FastAPI + uvicorn, one worker,
redis-py's asyncio client), not copied from the prototype. It keeps the
prototype's design on purpose, weaknesses included:

- sessions are `session:{id}` keys with a TTL, plus `user_session:{name}`
  pointing at a user's current session;
- a sign-in READS the user's current session and then WRITES the new one
  (several round trips, no atomic script);
- WebSocket connections live in a dict in this process only, so a duplicate
  sign-in on another instance cannot reach the old session's socket;
- `/ws/{session_id}`: the session id is the token and rides in the URL;
- text "ping" is answered with "pong";
- `/api/auth/active-sessions` is cached in Redis for 5 seconds;
- a background task tidies up every 5 minutes.

Run: `python main.py` (env: PORT, HOST, REDIS_URL, ACCESS_LOG, BENCH_USERS,
BENCH_USER_PREFIX, BENCH_PASSWORD). Loopback only: HOST defaults to 127.0.0.1.
"""

import asyncio
import hashlib
import json
import logging
import os
import uuid
from contextlib import asynccontextmanager
from datetime import datetime, timezone

import redis.asyncio as redis
import uvicorn
from fastapi import FastAPI, HTTPException, WebSocket, WebSocketDisconnect
from pydantic import BaseModel

logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s")
logger = logging.getLogger("prototype")

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
SESSION_TTL_S = 3600  # Redis expires a session an hour after sign-in
ACTIVE_SESSIONS_CACHE_S = 5  # "5초간 캐싱" in the seed README
CLEANUP_INTERVAL_S = 300  # "5분마다 만료된 세션 자동 정리"


def hash_password(password: str) -> str:
    # A prototype-grade scheme: unsalted SHA-256. Not argon2, and not safe:
    # kept because it is what a prototype like the seed would plausibly do,
    # so a sign-in here costs microseconds, not argon2's milliseconds.
    return hashlib.sha256(password.encode()).hexdigest()


def load_users() -> dict[str, str]:
    """The demo users (user1/password1 ..) plus optional benchmark accounts."""
    users = {f"user{i}": hash_password(f"password{i}") for i in range(1, 6)}
    # Benchmark accounts (e.g. lg0 .. lg2999) sharing one password, so the
    # load generator can sign in as many accounts as it needs.
    count = int(os.environ.get("BENCH_USERS", "0"))
    prefix = os.environ.get("BENCH_USER_PREFIX", "lg")
    shared = hash_password(os.environ.get("BENCH_PASSWORD", "loadgen-password"))
    users.update({f"{prefix}{i}": shared for i in range(count)})
    return users


USERS = load_users()


def now() -> str:
    return datetime.now(timezone.utc).isoformat()


class ConnectionManager:
    """WebSockets of this process, by user then session id.

    Nothing is shared between instances: this dict is the only place a
    socket can be found, which is why a kick never crosses instances.
    """

    def __init__(self) -> None:
        self.active: dict[str, dict[str, WebSocket]] = {}

    async def connect(self, ws: WebSocket, username: str, session_id: str) -> None:
        await ws.accept()
        self.active.setdefault(username, {})[session_id] = ws

    def disconnect(self, username: str, session_id: str, ws: WebSocket) -> None:
        sockets = self.active.get(username, {})
        # Only forget this very socket: a newer one may have taken its place.
        if sockets.get(session_id) is ws:
            del sockets[session_id]
        if not sockets:
            self.active.pop(username, None)

    async def force_logout(self, username: str, session_id: str) -> bool:
        """Tells the old session's socket it was logged out; False if not here."""
        ws = self.active.get(username, {}).pop(session_id, None)
        if ws is None:
            return False  # no socket, or it is on another instance: nobody tells it
        message = {
            "type": "force_logout",
            "message": "다른 곳에서 로그인하여 로그아웃되었습니다.",
            "timestamp": now(),
        }
        try:
            await ws.send_text(json.dumps(message))
            await ws.close()
        except Exception:  # the socket may already be gone; the kick is best effort
            pass
        return True


class SessionManager:
    def __init__(self, client: redis.Redis, connections: ConnectionManager) -> None:
        self.redis = client
        self.connections = connections

    async def create_session(self, username: str) -> str:
        # Read, then write: two sign-ins racing here can both see the same old
        # session and both create a new one. The prototype had no atomic step.
        old_id = await self.redis.get(f"user_session:{username}")
        if old_id and await self.redis.exists(f"session:{old_id}"):
            logger.info("사용자 %s 중복 로그인 감지 - 기존 세션 종료", username)
            await self.connections.force_logout(username, old_id)
            await self.redis.delete(f"session:{old_id}")
        session_id = str(uuid.uuid4())
        stamp = now()
        data = {
            "session_id": session_id,
            "username": username,
            "created_at": stamp,
            "last_activity": stamp,
        }
        await self.redis.setex(f"session:{session_id}", SESSION_TTL_S, json.dumps(data))
        await self.redis.setex(f"user_session:{username}", SESSION_TTL_S, session_id)
        logger.info("사용자 %s 세션 생성: %s", username, session_id)
        return session_id

    async def get_session(self, session_id: str) -> dict | None:
        raw = await self.redis.get(f"session:{session_id}")
        return json.loads(raw) if raw else None

    async def delete_session(self, session_id: str) -> None:
        session = await self.get_session(session_id)
        await self.redis.delete(f"session:{session_id}")
        if session and await self.redis.get(f"user_session:{session['username']}") == session_id:
            await self.redis.delete(f"user_session:{session['username']}")

    async def cleanup_expired_sessions(self) -> int:
        """Drops user pointers and local sockets whose session has expired."""
        cleaned = 0
        async for key in self.redis.scan_iter(match="user_session:*"):
            session_id = await self.redis.get(key)
            if session_id and not await self.redis.exists(f"session:{session_id}"):
                await self.redis.delete(key)
                cleaned += 1
        for username, sockets in list(self.connections.active.items()):
            for session_id, ws in list(sockets.items()):
                if not await self.redis.exists(f"session:{session_id}"):
                    self.connections.disconnect(username, session_id, ws)
                    cleaned += 1
        return cleaned


connections = ConnectionManager()
redis_client = redis.from_url(REDIS_URL, decode_responses=True)
session_manager = SessionManager(redis_client, connections)


async def cleanup_expired_sessions_task() -> None:
    while True:
        await asyncio.sleep(CLEANUP_INTERVAL_S)
        try:
            cleaned = await session_manager.cleanup_expired_sessions()
            logger.info("백그라운드에서 %d개 만료 세션 정리 완료", cleaned)
        except Exception as e:  # keep the task alive across a Redis hiccup
            logger.warning("세션 정리 실패: %s", e)


@asynccontextmanager
async def lifespan(_app: FastAPI):
    logger.info("Redis 기반 중복 로그인 방지 시스템 시작")
    await redis_client.ping()
    logger.info("Redis 연결 성공")
    task = asyncio.create_task(cleanup_expired_sessions_task())
    yield
    task.cancel()
    await redis_client.aclose()


app = FastAPI(title="Duplicate login prevention (prototype re-creation)", lifespan=lifespan)


class LoginRequest(BaseModel):
    username: str
    password: str


class LogoutRequest(BaseModel):
    session_id: str


@app.get("/")
async def root():
    return {"message": "duplicate login prevention prototype", "status": "running"}


@app.post("/api/auth/login")
async def login(req: LoginRequest):
    expected = USERS.get(req.username)
    if expected is None or expected != hash_password(req.password):
        raise HTTPException(status_code=401, detail="아이디 또는 비밀번호가 올바르지 않습니다.")
    session_id = await session_manager.create_session(req.username)
    return {
        "success": True,
        "session_id": session_id,
        "username": req.username,
        "message": "로그인 성공",
    }


@app.post("/api/auth/logout")
async def logout(req: LogoutRequest):
    await session_manager.delete_session(req.session_id)
    return {"success": True}


@app.get("/api/auth/check-session/{session_id}")
async def check_session(session_id: str):
    """The session check a client makes: is this session id still valid?"""
    session = await session_manager.get_session(session_id)
    if session is None:
        raise HTTPException(status_code=401, detail="세션이 만료되었습니다.")
    return {"valid": True, "username": session["username"], "session_id": session_id}


@app.get("/api/auth/active-sessions")
async def get_active_sessions():
    cache_key = "cached_active_sessions"
    cached = await redis_client.get(cache_key)
    if cached:
        return json.loads(cached)
    # KEYS walks the whole keyspace; the seed's own tooling used it too.
    sessions = []
    for key in await redis_client.keys("session:*"):
        raw = await redis_client.get(key)
        if raw:
            data = json.loads(raw)
            sessions.append({"username": data["username"], "created_at": data["created_at"]})
    result = {
        "total_sessions": len(sessions),
        "sessions": sessions,
        "connected_sockets": sum(len(s) for s in connections.active.values()),
    }
    await redis_client.setex(cache_key, ACTIVE_SESSIONS_CACHE_S, json.dumps(result))
    return result


@app.websocket("/ws/{session_id}")
async def websocket_endpoint(ws: WebSocket, session_id: str):
    session = await session_manager.get_session(session_id)
    if session is None:
        await ws.close(code=4001)  # refused before accept: the handshake fails
        return
    username = session["username"]
    await connections.connect(ws, username, session_id)
    try:
        while True:
            text = await ws.receive_text()
            if text == "ping":
                await ws.send_text("pong")
    except WebSocketDisconnect:
        pass
    finally:
        connections.disconnect(username, session_id, ws)


if __name__ == "__main__":
    # One process, one worker, as the seed's `python main.py` ran it. The
    # access log stays on (uvicorn's default) unless ACCESS_LOG=0.
    uvicorn.run(
        app,
        host=os.environ.get("HOST", "127.0.0.1"),
        port=int(os.environ.get("PORT", "8000")),
        access_log=os.environ.get("ACCESS_LOG", "1") != "0",
    )
