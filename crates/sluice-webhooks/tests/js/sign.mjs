// Signs deliveries with the senders' own libraries, so our verifier is checked against code we
// did not write. Reads a JSON array of cases on stdin, writes the same cases with `headers`
// filled in on stdout. Used at test time when node_modules is installed (`npm ci` here), and to
// regenerate ../fixtures/npm-signed.json otherwise.
import { Webhook as SvixWebhook } from "svix";
import { Webhook as StandardWebhook } from "standardwebhooks";
import Stripe from "stripe";
import { sign as githubSign } from "@octokit/webhooks-methods";

const input = JSON.parse(await new Promise((resolve) => {
  let text = "";
  process.stdin.setEncoding("utf8");
  process.stdin.on("data", (chunk) => (text += chunk));
  process.stdin.on("end", () => resolve(text));
}));

const stripe = new Stripe("sk_test_unused");
const out = [];
for (const c of input) {
  const when = new Date(c.timestamp * 1000);
  let headers;
  switch (c.scheme) {
    case "svix":
      headers = {
        "svix-id": c.id,
        "svix-timestamp": String(c.timestamp),
        "svix-signature": new SvixWebhook(c.secret).sign(c.id, when, c.body),
      };
      break;
    case "standardwebhooks":
      headers = {
        "webhook-id": c.id,
        "webhook-timestamp": String(c.timestamp),
        "webhook-signature": new StandardWebhook(c.secret).sign(c.id, when, c.body),
      };
      break;
    case "stripe":
      headers = {
        "Stripe-Signature": stripe.webhooks.generateTestHeaderString({
          payload: c.body,
          secret: c.secret,
          timestamp: c.timestamp,
        }),
      };
      break;
    case "github":
      headers = { "X-Hub-Signature-256": await githubSign(c.secret, c.body) };
      break;
    default:
      throw new Error(`unknown scheme ${c.scheme}`);
  }
  out.push({ ...c, headers });
}
process.stdout.write(JSON.stringify(out, null, 2) + "\n");
