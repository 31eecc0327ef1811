// Real SMTP both ways: a local sink (smtp-server) that appends every message it receives to a
// JSON-lines file, and a nodemailer transport that sends to it.
import fs from "node:fs";
import { SMTPServer } from "smtp-server";
import nodemailer from "nodemailer";

export async function startSmtpSink({ port, logPath }) {
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ["STARTTLS"],
    logger: false,
    onData(stream, session, callback) {
      const chunks = [];
      stream.on("data", (c) => chunks.push(c));
      stream.on("end", () => {
        const record = {
          received_at: new Date().toISOString(),
          from: session.envelope.mailFrom?.address ?? null,
          to: session.envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks).toString("utf8"),
        };
        fs.appendFileSync(logPath, JSON.stringify(record) + "\n");
        callback();
      });
    },
  });
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", resolve);
  });
  return server;
}

export function mailer({ port }) {
  const transport = nodemailer.createTransport({
    host: "127.0.0.1",
    port,
    secure: false,
    ignoreTLS: true,
  });
  return {
    async sendWelcomeEmail(to, name) {
      if (!to) throw new Error("the user has no email address");
      const info = await transport.sendMail({
        from: "Clerk User Sync <welcome@example.com>",
        to,
        subject: "Welcome!",
        text: `Hello ${name ?? "there"}, welcome aboard.`,
      });
      return { messageId: info.messageId, accepted: info.accepted };
    },
  };
}
