"""Server-rendered pages. (Placeholder until the pages land.)"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
async def home() -> str:
    return "<!doctype html><title>livecart</title><h1>livecart</h1>"
