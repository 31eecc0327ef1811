"""The Python test app for Sluice's end-to-end tests: functions written with the real `inngest`
PyPI package, served by Flask at /api/inngest.

Environment: PORT, APP_ID (default sdk-py), INNGEST_BASE_URL=<sluice URL>, and INNGEST_DEV=1 for
dev mode or INNGEST_SIGNING_KEY and INNGEST_EVENT_KEY for production mode.
Every function is triggered by its own `test/py.<name>` event.
"""

import datetime
import os

import flask
import inngest
import inngest.flask

# Dev mode with INNGEST_DEV set; otherwise production (cloud) mode, which needs
# INNGEST_SIGNING_KEY and checks the signature of every request from Sluice.
client = inngest.Inngest(
    app_id=os.environ.get("APP_ID", "sdk-py"),
    is_production=not os.environ.get("INNGEST_DEV"),
)

# Attempts seen per run, so a retried step can tell its first attempt from the next.
_calls: dict[str, int] = {}


def _count(key: str) -> int:
    _calls[key] = _calls.get(key, 0) + 1
    return _calls[key]


@client.create_function(fn_id="chain", trigger=inngest.TriggerEvent(event="test/py.chain"))
def chain(ctx: inngest.ContextSync) -> dict[str, int]:
    a = ctx.step.run("first", lambda: int(ctx.event.data["start"]))
    b = ctx.step.run("second", lambda: a + 1)
    c = ctx.step.run("third", lambda: b * 2)
    return {"a": a, "b": b, "c": c}


@client.create_function(fn_id="retry-once", trigger=inngest.TriggerEvent(event="test/py.retry"))
def retry_once(ctx: inngest.ContextSync) -> dict[str, int]:
    def flaky() -> dict[str, int]:
        n = _count(f"flaky:{ctx.run_id}")
        if n == 1:
            raise RuntimeError("flaky: the first attempt fails")
        return {"calls": n, "attempt": ctx.attempt}

    return ctx.step.run("flaky", flaky)


@client.create_function(fn_id="sleeper", trigger=inngest.TriggerEvent(event="test/py.sleep"))
def sleeper(ctx: inngest.ContextSync) -> dict[str, bool]:
    ctx.step.run("before", lambda: "before")
    ctx.step.sleep("nap", datetime.timedelta(seconds=2))
    ctx.step.run("after", lambda: "after")
    return {"slept": True}


@client.create_function(fn_id="wait", trigger=inngest.TriggerEvent(event="test/py.wait"))
def wait(ctx: inngest.ContextSync) -> dict[str, object]:
    got = ctx.step.wait_for_event(
        "wait-for-approval",
        event="test/py.approval",
        if_exp="async.data.orderId == event.data.orderId",
        timeout=datetime.timedelta(seconds=60),
    )
    return {"approval": got.data if got is not None else None}


@client.create_function(
    fn_id="wait-timeout", trigger=inngest.TriggerEvent(event="test/py.wait-timeout")
)
def wait_timeout(ctx: inngest.ContextSync) -> dict[str, object]:
    got = ctx.step.wait_for_event(
        "wait-for-nothing",
        event="test/py.never",
        timeout=datetime.timedelta(seconds=2),
    )
    return {"timedOut": got is None}


@client.create_function(fn_id="child", trigger=inngest.TriggerEvent(event="test/py.child"))
def child(ctx: inngest.ContextSync) -> dict[str, int]:
    return {"doubled": int(ctx.event.data["n"]) * 2}


@client.create_function(fn_id="invoker", trigger=inngest.TriggerEvent(event="test/py.invoke"))
def invoker(ctx: inngest.ContextSync) -> dict[str, object]:
    result = ctx.step.invoke("call-child", function=child, data={"n": ctx.event.data["n"]})
    return {"child": result}


app = flask.Flask(__name__)
inngest.flask.serve(app, client, [chain, retry_once, sleeper, wait, wait_timeout, child, invoker])

if __name__ == "__main__":
    port = int(os.environ.get("PORT", "8000"))
    print(f"sdk-py test app listening on http://127.0.0.1:{port}/api/inngest", flush=True)
    app.run(host="127.0.0.1", port=port, threaded=True)
