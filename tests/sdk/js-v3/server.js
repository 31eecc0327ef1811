// The inngest v3 test app: the shared functions, declared with v3's
// `createFunction(config, trigger, handler)`, served by Express at /api/inngest on $PORT.
// Environment: INNGEST_DEV=1 and INNGEST_BASE_URL=<sluice URL>, APP_ID (default sdk-v3).
import express from "express";
import { Inngest, NonRetriableError } from "inngest";
import { serve } from "inngest/express";
import { makeFunctions } from "../js-common/functions.js";

const inngest = new Inngest({ id: process.env.APP_ID ?? "sdk-v3" });
const define = (config, trigger, handler) => inngest.createFunction(config, trigger, handler);
const functions = makeFunctions({ define, NonRetriableError });

const app = express();
app.use(express.json({ limit: "50mb" }));
app.use("/api/inngest", serve({ client: inngest, functions }));
const port = Number(process.env.PORT ?? 3000);
app.listen(port, "127.0.0.1", () => {
  console.log(`sdk-v3 test app listening on http://127.0.0.1:${port}/api/inngest`);
});
