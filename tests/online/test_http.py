"""RequestMetrics: starlette-exporter's request metrics (names, labels, route templates) written by evmon's
lean middleware, on a real Starlette app driven over ASGI."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Mount, Route

from evmon.online.http import Calls, RequestMetrics

MODEL = {"app_name": "credit", "model": "credit", "version": "v1"}


def _app(registry: CollectorRegistry) -> Starlette:
    async def score(request: Request) -> JSONResponse:
        body = await request.json()
        if "bad" in body:
            return JSONResponse({"detail": "bad"}, status_code=422)
        return JSONResponse({"p": 0.5})

    async def item(request: Request) -> PlainTextResponse:
        return PlainTextResponse(request.path_params["item"])

    async def boom(request: Request) -> PlainTextResponse:
        raise RuntimeError("the model failed")

    async def metrics(request: Request) -> PlainTextResponse:
        return PlainTextResponse("")

    routes = [
        Route("/score", score, methods=["POST"]),
        Route("/items/{item}", item),
        Route("/boom", boom),
        Route("/metrics", metrics),
        Mount("/v2", routes=[Route("/score", score, methods=["POST"])]),
    ]
    middleware = [Middleware(RequestMetrics, model="credit", version="v1", registry=registry)]
    return Starlette(routes=routes, middleware=middleware)


class _Client:
    """Requests straight into the app over ASGI (httpx's transport), an app's exception answered 500."""

    def __init__(self, app: Starlette) -> None:
        self.transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        async def send() -> httpx.Response:
            async with httpx.AsyncClient(transport=self.transport, base_url="http://service") as client:
                return await client.request(method, path, **kwargs)

        return asyncio.run(send())

    def get(self, path: str) -> httpx.Response:
        return self._send("GET", path)

    def post(self, path: str, json: object) -> httpx.Response:
        return self._send("POST", path, json=json)


def _count(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, {**MODEL, **labels})


def test_each_request_is_counted_and_timed_under_its_route_template() -> None:
    registry = CollectorRegistry()
    client = _Client(_app(registry))
    assert client.post("/score", json={}).status_code == 200
    assert client.post("/score", json={}).status_code == 200
    assert client.post("/score", json={"bad": 1}).status_code == 422
    assert client.get("/items/7").text == "7"
    assert client.get("/items/8").text == "8"
    assert client.post("/v2/score", json={}).status_code == 200
    assert client.get("/boom").status_code == 500
    assert client.get("/nowhere").status_code == 404  # no route: not counted (starlette-exporter's default)
    assert client.get("/metrics").status_code == 200  # the scrape itself: not counted
    assert client.get("/score").status_code == 405  # the route, another method: not counted either

    total = "evmon_online_http_requests_total"
    assert _count(registry, total, method="POST", path="/score", status_code="200") == 2
    assert _count(registry, total, method="POST", path="/score", status_code="422") == 1
    assert _count(registry, total, method="GET", path="/items/{item}", status_code="200") == 2
    assert _count(registry, total, method="POST", path="/v2/score", status_code="200") == 1
    assert _count(registry, total, method="GET", path="/boom", status_code="500") == 1
    assert _count(registry, total, method="GET", path="/score", status_code="405") is None
    assert _count(registry, total, method="GET", path="/nowhere", status_code="404") is None
    assert _count(registry, total, method="GET", path="/metrics", status_code="200") is None
    served = sum(
        s.value
        for m in registry.collect()
        if m.name == total.removesuffix("_total")
        for s in m.samples
        if s.name == total
    )
    assert served == 7

    duration = "evmon_online_http_request_duration_seconds"
    assert _count(registry, duration + "_count", method="POST", path="/score", status_code="200") == 2
    assert _count(registry, duration + "_bucket", method="POST", path="/score", status_code="200", le="10.0") == 2
    seconds = _count(registry, duration + "_sum", method="POST", path="/score", status_code="200")
    assert seconds is not None and 0 < seconds < 10
    in_progress = "evmon_online_http_requests_in_progress"
    assert registry.get_sample_value(in_progress, {"method": "POST", **MODEL}) == 0


def test_calls_writes_the_same_metrics_for_a_service_without_starlette() -> None:
    registry = CollectorRegistry()
    calls = Calls("credit", "v1", registry=registry)
    with calls.call("predict"):
        pass
    try:
        with calls.call("predict"):
            raise ValueError("the model failed")
    except ValueError:
        pass
    total = "evmon_online_http_requests_total"
    assert _count(registry, total, method="CALL", path="predict", status_code="200") == 1
    assert _count(registry, total, method="CALL", path="predict", status_code="500") == 1
    # the middleware in the same process shares the metrics instead of registering them twice
    RequestMetrics(_app(registry), model="credit", version="v1", registry=registry)
