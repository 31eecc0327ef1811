// The durable functions. Sluice calls them through the inngest SDK; each `step.run` result is
// stored by Sluice, so a retry after a failure re-runs only the step that failed.
import { Inngest } from "inngest";

export const inngest = new Inngest({ id: "clerk-user-sync" });

export function makeFunctions({ db, mail, faults }) {
  const userCreated = inngest.createFunction(
    { id: "create-user", triggers: [{ event: "clerk/user.created" }] },
    async ({ event, step }) => {
      const user = await step.run("insert-user", () => {
        faults.beforeInsert();
        return db.createUser(event.data);
      });
      await step.run("send-welcome-email", () => mail.sendWelcomeEmail(user.email, user.first_name));
      return { userId: user.id };
    },
  );

  const userUpdated = inngest.createFunction(
    { id: "update-user", triggers: [{ event: "clerk/user.updated" }] },
    async ({ event, step }) => {
      const result = await step.run("update-user", () => db.updateUser(event.data));
      return { userId: event.data.id, updated: result.updated };
    },
  );

  const userDeleted = inngest.createFunction(
    { id: "delete-user", triggers: [{ event: "clerk/user.deleted" }] },
    async ({ event, step }) => {
      const result = await step.run("delete-user", () => db.deleteUser(event.data.id));
      return { userId: event.data.id, deleted: result.deleted };
    },
  );

  return [userCreated, userUpdated, userDeleted];
}
