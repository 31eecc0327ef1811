// The app's own users table, in a SQLite file (better-sqlite3). Every write is idempotent, because
// a step may run again after a failure: inserting a user twice keeps one row.
import Database from "better-sqlite3";

export function openDb(path) {
  const db = new Database(path);
  db.pragma("journal_mode = WAL");
  db.exec(`CREATE TABLE IF NOT EXISTS users (
    id         TEXT PRIMARY KEY,
    email      TEXT,
    first_name TEXT,
    last_name  TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
  )`);

  const insert = db.prepare(`INSERT INTO users (id, email, first_name, last_name, created_at, updated_at)
    VALUES (@id, @email, @first_name, @last_name, @now, @now)
    ON CONFLICT (id) DO NOTHING`);
  const update = db.prepare(`UPDATE users
    SET email = @email, first_name = @first_name, last_name = @last_name, updated_at = @now
    WHERE id = @id`);
  const remove = db.prepare("DELETE FROM users WHERE id = ?");
  const byId = db.prepare("SELECT * FROM users WHERE id = ?");
  const all = db.prepare("SELECT * FROM users ORDER BY created_at, id");

  return {
    createUser(clerkUser) {
      insert.run({ ...fields(clerkUser), now: new Date().toISOString() });
      return byId.get(clerkUser.id);
    },
    updateUser(clerkUser) {
      const changed = update.run({ ...fields(clerkUser), now: new Date().toISOString() }).changes;
      return { updated: changed === 1, user: byId.get(clerkUser.id) ?? null };
    },
    deleteUser(id) {
      return { deleted: remove.run(id).changes === 1 };
    },
    getUser: (id) => byId.get(id) ?? null,
    listUsers: () => all.all(),
    close: () => db.close(),
  };
}

// A Clerk user object (the `data` of a clerk/user.* event) to our columns.
function fields(u) {
  if (!u || typeof u.id !== "string") {
    throw new Error("the event's data is not a Clerk user: it has no string `id`");
  }
  const primary = (u.email_addresses ?? []).find((e) => e.id === u.primary_email_address_id)
    ?? (u.email_addresses ?? [])[0];
  return {
    id: u.id,
    email: primary?.email_address ?? null,
    first_name: u.first_name ?? null,
    last_name: u.last_name ?? null,
  };
}
