/** The metadata schema; `user_version` tracks which migrations ran. */
export const MIGRATIONS: readonly string[] = [
  `create table runs (
     id text primary key,
     pipeline text not null,
     status text not null,
     trigger_kind text not null,
     trigger_id text not null,
     params text not null,
     resumed_from text,
     started_at integer not null,
     ended_at integer,
     error_code text,
     error_message text
   );
   create index runs_pipeline on runs (pipeline, started_at);
   create table run_steps (
     run_id text not null references runs (id),
     step text not null,
     position integer not null,
     status text not null,
     attempts integer not null default 0,
     started_at integer,
     ended_at integer,
     error_code text,
     error_message text,
     output text,
     reused_from text,
     primary key (run_id, step)
   );
   create table attempts (
     run_id text not null,
     step text not null,
     attempt integer not null,
     status text not null,
     started_at integer not null,
     ended_at integer,
     error_code text,
     error_message text,
     retryable integer,
     primary key (run_id, step, attempt)
   );
   create table logs (
     run_id text not null,
     seq integer primary key autoincrement,
     step text,
     attempt integer,
     time integer not null,
     level integer not null,
     line text not null
   );
   create index logs_run on logs (run_id, step);`,
  `alter table runs add column input_params text;
   alter table runs add column owner text;`,
  `create table storages (
     name text primary key,
     technology text not null,
     format text not null,
     options text not null,
     added_at integer not null
   );
   create table dataset_versions (
     dataset text not null,
     version integer not null,
     storage text not null,
     status text not null,
     rows integer,
     run_id text,
     step text,
     partition text,
     created_at integer not null,
     finished_at integer,
     error text,
     primary key (dataset, version)
   );
   create table dataset_live (
     dataset text primary key,
     version integer not null,
     changed_at integer not null
   );
   create table lineage (
     run_id text not null,
     step text not null,
     dataset text not null,
     version integer not null,
     direction text not null,
     at integer not null
   );
   create index lineage_run on lineage (run_id);
   create index lineage_dataset on lineage (dataset, version);`,
  `create table validation_reports (
     seq integer primary key autoincrement,
     run_id text,
     step text,
     dataset text not null,
     version integer,
     kind text not null,
     passed integer not null,
     body text not null,
     at integer not null
   );
   create index validation_reports_run on validation_reports (run_id);
   create index validation_reports_dataset on validation_reports (dataset, at);`,
  `create table models (
     name text not null,
     version integer not null,
     algorithm text not null,
     params text not null,
     metrics text not null,
     artifact text,
     run_id text,
     step text,
     created_at integer not null,
     primary key (name, version)
   );
   create table model_aliases (
     name text not null,
     alias text not null,
     version integer not null,
     changed_at integer not null,
     primary key (name, alias)
   );`,
  `create table api_keys (
     id text primary key,
     name text not null,
     hash text not null unique,
     scopes text not null,
     hint text not null,
     created_at integer not null,
     revoked_at integer
   );
   create unique index api_keys_active_name on api_keys (name) where revoked_at is null;`,
  // Who holds a dataset's write lock: a process of this machine, told apart by pid (and a token).
  `create table dataset_locks (
     dataset text primary key,
     token text not null,
     host text not null,
     pid integer not null,
     taken_at integer not null
   );`,
  // When an ended run's hooks are due from whoever sweeps them (null: delivered, or none to deliver).
  `alter table runs add column hooks_due_at integer;
   create index runs_hooks_due on runs (hooks_due_at) where hooks_due_at is not null;`,
];
