"""This process's media node: nginx-rtmp (when installed), the packagers, and the sweep that ends
shows whose stream did not come back and closes their replays."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import socket

from livecart.config import Settings
from livecart.db.uow import SessionFactory, UnitOfWork
from livecart.features.media import playlists, service, stored
from livecart.features.media.encode_queue import EncodeQueue, make_encode_queue
from livecart.features.media.nginx import (
    NginxProcess,
    check_installed,
    port_free,
    stop_stale,
    stream_name,
)
from livecart.features.media.packager import Packagers, show_dir
from livecart.kit.clock import utcnow
from livecart.kit.storage import storage_for
from livecart.realtime.hub import Hub

log = logging.getLogger("livecart.media")
SWEEP_EVERY_SECS = 0.5


class MediaNode:
    def __init__(self, settings: Settings, factory: SessionFactory, hub: Hub) -> None:
        self.settings = settings
        self.factory = factory
        self.hub = hub
        self.packagers = Packagers(settings)
        self.nginx: NginxProcess | None = None
        self.status = "off"
        self._sweeper: asyncio.Task[None] | None = None
        self._stores: set[asyncio.Task[None]] = set()
        self.encodes: EncodeQueue = make_encode_queue(factory, settings)
        # Processes that share a database tell their recordings apart by this.
        where = f"{socket.gethostname()}:{settings.data_dir.resolve()}"
        self.node_id = hashlib.sha256(where.encode()).hexdigest()[:32]

    async def start(self, *, ingest: bool) -> None:
        """With `ingest`: nginx-rtmp (when installed and its port is free; otherwise say why live
        video is off and carry on without it) and the sweep."""
        if not ingest or self.settings.media == "off":
            return
        available = check_installed()
        if not available.ok:
            self.status = available.reason
            print(f"livecart: {available.reason}", flush=True)
            return
        stop_stale(self.settings)
        if not port_free(self.settings.rtmp_host, self.settings.rtmp_port):
            self.status = f"the RTMP port {self.settings.rtmp_port} is in use"
            print(
                f"livecart: live video is off: the RTMP port {self.settings.rtmp_port} is in use; "
                "choose another with LIVECART_RTMP_PORT",
                flush=True,
            )
            return
        async with UnitOfWork(self.factory) as uow:
            # Whoever was publishing through an earlier nginx is gone; their grace starts now.
            await service.MediaContext(uow, self.hub).media.release_all_publishers(
                node=self.node_id, now=utcnow()
            )
        self.nginx = NginxProcess(self.settings)
        await self.nginx.start()
        self._sweeper = asyncio.create_task(self._sweep_forever(), name="media-sweep")
        self.status = "on"
        host = self.settings.rtmp_host
        print(
            f"livecart: RTMP ingest at rtmp://{host}:{self.settings.rtmp_port}/live "
            "(stream key = the show's key; no camera? `livecart demo-stream`)",
            flush=True,
        )

    async def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
        for task in self._stores:
            task.cancel()
        await self.encodes.close()
        await self.packagers.close()
        if self.nginx is not None:
            await self.nginx.stop()

    def start_packager(self, show_id: int, run: int) -> None:
        self.packagers.start(show_id, run)

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_EVERY_SECS)
            try:
                await self.sweep_once()
            except Exception:
                log.exception("media sweep failed; will retry")

    async def sweep_once(self) -> None:
        async with UnitOfWork(self.factory) as uow:
            await service.end_gone_streams(
                service.MediaContext(uow, self.hub),
                node=self.node_id,
                grace_secs=self.settings.stream_grace_secs,
            )
        async with UnitOfWork(self.factory) as uow:
            media = service.MediaContext(uow, self.hub).media
            closing = await media.replays_to_finish(node=self.node_id)
            show_ids = [r.show_id for r in closing]
            still_publishing = [r.show_id for r in closing if r.publishing]
        # The host ended the show while the encoder still streams: drop it, or it would go on
        # publishing into nothing (and its reconnects are refused: the show is over).
        for show_id in still_publishing:
            if self.nginx is not None and await self.nginx.drop_publisher(stream_name(show_id)):
                log.info("show %d: ended while streaming; publisher dropped", show_id)
        # Each replay on its own, packagers stopped together: one that fails or is slow to stop
        # must not hold the others back.
        await asyncio.gather(
            *(self.packagers.stop(i) for i in show_ids if self.packagers.running(i))
        )
        for show_id in show_ids:
            try:
                await self._finish(show_id)
            except Exception:
                log.exception("closing the replay of show %d failed; will retry", show_id)

    async def _store(self, show_id: int) -> None:
        """Put the replay in the bucket; until (or unless) that worked it plays from here."""
        folder = show_dir(self.settings, show_id)
        try:
            key = await asyncio.to_thread(
                stored.upload_hls,
                storage_for(self.settings),
                folder / playlists.REPLAY_FILE,
                stored.replay_prefix(show_id, "live"),
            )
        except Exception:
            log.exception("show %d: the replay could not be stored; it plays from here", show_id)
            return
        async with UnitOfWork(self.factory) as uow:
            replay = await service.MediaContext(uow, self.hub).media.replay(show_id)
            if replay is not None:
                replay.playlist_key = key
        log.info("show %d: replay stored", show_id)

    async def _finish(self, show_id: int) -> None:
        started = asyncio.get_running_loop().time()
        async with UnitOfWork(self.factory) as uow:
            ctx = service.MediaContext(uow, self.hub)
            replay = await ctx.media.replay(show_id)
            if replay is None or replay.status != "recording":
                return
            await service.finish_replay(ctx, replay, show_dir(self.settings, show_id))
            status, duration = replay.status, replay.duration_ms
        if status == "ready" and self.settings.storage == "s3":
            # In the background: a long show is thousands of segments, and the sweep must go on
            # ending other shows meanwhile. The replay plays from here until it is stored.
            task = asyncio.create_task(self._store(show_id), name=f"store-replay-{show_id}")
            self._stores.add(task)
            task.add_done_callback(self._stores.discard)
        if status == "ready" and self.settings.replay_encode_auto:  # the smaller rendition
            try:
                await self.encodes.submit(show_id)
            except Exception:  # the replay plays as it is; `livecart replay encode` can redo it
                log.exception("show %d: could not queue the replay's encode", show_id)
        log.info(
            "show %d: replay %s (%s ms of video) in %.2f s",
            show_id,
            status,
            duration,
            asyncio.get_running_loop().time() - started,
        )
