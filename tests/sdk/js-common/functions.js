// The functions both JS test apps serve (js-v4 and js-v3). Each app passes its own copy of the
// `inngest` package and a `define(config, trigger, handler)` that hides the one API difference:
// v4 takes `createFunction({ ...config, triggers: [trigger] }, handler)`, v3 takes
// `createFunction(config, trigger, handler)`.
//
// Every function is triggered by its own `test/<name>` event, so one app serves many independent
// scenarios. Counters are kept per run id, so a retried step can tell its attempts apart.

const calls = new Map();
function count(key) {
  const n = (calls.get(key) ?? 0) + 1;
  calls.set(key, n);
  return n;
}

export function makeFunctions({ define, NonRetriableError }) {
  const chain = define({ id: "step-chain" }, { event: "test/chain" }, async ({ event, step }) => {
    const a = await step.run("first", () => event.data.start);
    const b = await step.run("second", () => a + 1);
    const c = await step.run("third", () => b * 2);
    return { a, b, c };
  });

  const parallel = define({ id: "parallel" }, { event: "test/parallel" }, async ({ step }) => {
    const parts = await Promise.all(
      ["p1", "p2", "p3"].map((id, i) => step.run(id, () => (i + 1) * 10)),
    );
    const total = await step.run("sum", () => parts.reduce((x, y) => x + y, 0));
    return { parts, total };
  });

  const retry = define({ id: "retry-once" }, { event: "test/retry" }, async ({ step, runId }) => {
    const seen = await step.run("flaky", () => {
      const n = count(`flaky:${runId}`);
      if (n === 1) throw new Error("flaky: the first attempt fails");
      return { calls: n };
    });
    return seen;
  });

  const nonRetriable = define(
    { id: "non-retriable" },
    { event: "test/non-retriable" },
    async ({ step }) => {
      await step.run("doomed", () => {
        throw new NonRetriableError("this cannot work, do not retry");
      });
      return "unreachable";
    },
  );

  const failing = define(
    {
      id: "fails-with-handler",
      retries: 0,
      onFailure: async ({ event, error, step }) =>
        step.run("record-failure", () => ({
          failedRunId: event.data.run_id,
          failedFunctionId: event.data.function_id,
          message: error.message,
        })),
    },
    { event: "test/fail" },
    async ({ step }) => {
      await step.run("boom", () => {
        throw new Error("boom for onFailure");
      });
    },
  );

  const child = define({ id: "invoke-child" }, { event: "test/invoke-child" }, async ({ event }) => ({
    doubled: event.data.n * 2,
  }));

  const invoker = define({ id: "invoker" }, { event: "test/invoke" }, async ({ event, step }) => {
    const result = await step.invoke("call-child", { function: child, data: { n: event.data.n } });
    return { child: result };
  });

  const waitMatch = define({ id: "wait-match" }, { event: "test/wait.match" }, async ({ step }) => {
    const approval = await step.waitForEvent("wait-for-approval", {
      event: "test/approval",
      timeout: "60s",
      match: "data.orderId",
    });
    return { approval: approval ? approval.data : null };
  });

  const waitIf = define({ id: "wait-if" }, { event: "test/wait.if" }, async ({ step }) => {
    const payment = await step.waitForEvent("wait-for-big-payment", {
      event: "test/payment",
      timeout: "60s",
      if: "async.data.orderId == event.data.orderId && async.data.amount >= 100",
    });
    return { payment: payment ? payment.data : null };
  });

  const waitTimeout = define({ id: "wait-timeout" }, { event: "test/wait.timeout" }, async ({ step }) => {
    const never = await step.waitForEvent("wait-for-nothing", { event: "test/never", timeout: "2s" });
    return { timedOut: never === null, value: never };
  });

  const sleeper = define({ id: "sleeper" }, { event: "test/sleep" }, async ({ event, step }) => {
    const before = await step.run("before", () => Date.now());
    await step.sleep("nap", event.data.duration ?? "2s");
    const after = await step.run("after", () => Date.now());
    return { sleptMs: after - before };
  });

  const fanout = define({ id: "fan-out" }, { event: "test/fan-out" }, async ({ event, step, runId }) => {
    const sent = await step.sendEvent("emit", {
      name: "test/fanned",
      data: { fromRun: runId, tag: event.data.tag },
    });
    return { ids: sent.ids };
  });

  const fanned = define({ id: "fanned" }, { event: "test/fanned" }, async ({ event }) => ({
    received: event.data,
  }));

  const dedupe = define({ id: "dedupe-target" }, { event: "test/dedupe" }, async ({ event }) => ({
    seq: event.data.seq,
  }));

  const cron = define({ id: "every-minute" }, { cron: "* * * * *" }, async ({ event, step }) => {
    const at = await step.run("tick", () => new Date().toISOString());
    return { at, trigger: event.name };
  });

  // Faults: each fails on purpose and must end in a clear, stored run error.
  const bigOutput = define({ id: "big-output", retries: 0 }, { event: "test/big-output" }, async ({ step }) => {
    await step.run("too-big", () => "x".repeat(5 * 1024 * 1024));
    return "unreachable";
  });

  const manySteps = define({ id: "many-steps", retries: 0 }, { event: "test/many-steps" }, async ({ event, step }) => {
    for (let i = 0; i < event.data.steps; i++) {
      await step.run(`s${i}`, () => i);
    }
    return { done: event.data.steps };
  });

  const noRetry = define({ id: "no-retry", retries: 0 }, { event: "test/no-retry" }, async ({ step }) =>
    step.run("only", () => "ran"),
  );

  const slow = define({ id: "slow", retries: 0 }, { event: "test/slow" }, async ({ event, step }) =>
    step.run("hang", () => new Promise((resolve) => setTimeout(() => resolve("late"), event.data.ms))),
  );

  // Two slow steps, for the queue-order test: with one call at a time, a run that has started
  // finishes before the next run begins.
  const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const inOrder = define({ id: "in-order", retries: 0 }, { event: "test/in-order" }, async ({ event, step }) => {
    await step.run("one", () => pause(event.data.ms).then(() => 1));
    return await step.run("two", () => pause(event.data.ms).then(() => 2));
  });

  return [
    chain, parallel, retry, nonRetriable, failing, child, invoker, waitMatch, waitIf, waitTimeout,
    sleeper, fanout, fanned, dedupe, cron, bigOutput, manySteps, noRetry, slow, inOrder,
  ];
}
