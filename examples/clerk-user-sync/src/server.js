// The app: Express serving the inngest handler at /api/inngest, a read-only users API, the SQLite
// database and a local SMTP sink. Configuration is the environment (see README.md).
import express from "express";
import { serve } from "inngest/express";
import { openDb } from "./db.js";
import { mailer, startSmtpSink } from "./mail.js";
import { inngest, makeFunctions } from "./functions.js";

const env = process.env;
const port = Number(env.PORT ?? 3000);
const smtpPort = Number(env.SMTP_PORT ?? 2525);
const db = openDb(env.DATABASE_PATH ?? "users.db");
const mailLog = env.MAIL_LOG ?? "mail.jsonl";

// FAIL_INSERT_ONCE=1 makes the first insert attempt throw, to watch Sluice retry the step.
let insertFailuresLeft = env.FAIL_INSERT_ONCE === "1" ? 1 : 0;
const faults = {
  beforeInsert() {
    if (insertFailuresLeft > 0) {
      insertFailuresLeft -= 1;
      throw new Error("injected fault: the database refused the first insert (FAIL_INSERT_ONCE)");
    }
  },
};

const smtp = await startSmtpSink({ port: smtpPort, logPath: mailLog });
const functions = makeFunctions({ db, mail: mailer({ port: smtpPort }), faults });

const app = express();
app.use(express.json({ limit: "10mb" }));
app.use("/api/inngest", serve({ client: inngest, functions }));
app.get("/users", (_req, res) => res.json(db.listUsers()));
app.get("/users/:id", (req, res) => {
  const user = db.getUser(req.params.id);
  if (user) res.json(user);
  else res.status(404).json({ error: `no user ${req.params.id}` });
});

const server = app.listen(port, "127.0.0.1", () => {
  console.log(`clerk-user-sync listening on http://127.0.0.1:${port}/api/inngest (smtp sink on ${smtpPort})`);
});

function shutdown() {
  server.close();
  smtp.close(() => {});
  db.close();
  process.exit(0);
}
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);
