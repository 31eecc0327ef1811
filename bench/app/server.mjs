// A three-step function for the run benchmark. PORT and INNGEST_DEV come from the environment.
import express from "express";
import { Inngest } from "inngest";
import { serve } from "inngest/express";

const inngest = new Inngest({ id: "bench" });
const threeSteps = inngest.createFunction(
  { id: "three-steps", triggers: [{ event: "bench/run" }] },
  async ({ event, step }) => {
    const a = await step.run("one", () => event.data.i);
    const b = await step.run("two", () => a + 1);
    const c = await step.run("three", () => b + 1);
    return { c };
  },
);
const app = express();
app.use(express.json({ limit: "10mb" }));
app.use("/api/inngest", serve({ client: inngest, functions: [threeSteps] }));
app.listen(Number(process.env.PORT), "127.0.0.1", () => console.log("bench app ready"));
