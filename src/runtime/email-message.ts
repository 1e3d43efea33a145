import type { HookPayload } from "./hook-payload.js";

export interface EmailMessage {
  readonly subject: string;
  readonly text: string;
  readonly html: string;
}

/** `[strata] cltv failed at step "fit" (COMMAND_FAILED)`: what went wrong fits in an inbox line. */
function defaultSubject(p: HookPayload): string {
  if (p.status !== "failed") return `[strata] ${p.pipeline} ${p.status}`;
  const at = p.failedStep ? ` at step "${p.failedStep}"` : "";
  return `[strata] ${p.pipeline} failed${at}${p.errorCode ? ` (${p.errorCode})` : ""}`;
}

const SUBJECT_FIELDS = new Set(["pipeline", "status", "runId", "failedStep", "errorCode"]);

function fillSubject(template: string, p: HookPayload): string {
  return template.replace(/\{(\w+)\}/g, (whole, name: string) =>
    SUBJECT_FIELDS.has(name) ? String(p[name as keyof HookPayload] ?? "") : whole,
  );
}

/** The rows both parts show, in reading order; empty values are left out. */
function rows(p: HookPayload): [string, string][] {
  const all: [string, string | null][] = [
    ["Run id", p.runId],
    ["Pipeline", p.pipeline],
    ["Status", p.status],
    ["Failed step", p.failedStep],
    ["Error code", p.errorCode],
    ["Message", p.message],
    ["Trigger", `${p.triggerKind} ${p.triggerId}`],
    ["Started", p.startedAt],
    ["Ended", p.endedAt],
  ];
  return all.filter((row): row is [string, string] => row[1] !== null && row[1] !== "");
}

function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The alert as mail: a plain-text body any client shows, and a small HTML part with a clickable logs link. */
export function emailMessage(p: HookPayload, subject?: string): EmailMessage {
  const headline = `Run ${p.runId} of pipeline "${p.pipeline}" ${p.status}${p.failedStep ? ` at step "${p.failedStep}"` : ""}.`;
  const width = 13;
  // Continuation lines of a multi-line message stay under their value.
  const line = ([label, value]: [string, string]): string => `${label.padEnd(width)}${value.replace(/\n/g, `\n${" ".repeat(width)}`)}`;
  const logs: [string, string][] = p.logsUrl
    ? [
        ["Logs", p.logsUrl],
        ["", p.logs],
      ]
    : [["Logs", p.logs]];
  const text = [headline, "", ...rows(p).map(line), ...logs.map(line), ""].join("\n");

  const cells = rows(p).map(([label, value]) => `<tr><th align="left">${escapeHtml(label)}</th><td>${cellHtml(label, value)}</td></tr>`);
  const link = p.logsUrl ? `<a href="${escapeHtml(p.logsUrl)}">${escapeHtml(p.logsUrl)}</a><br>` : "";
  cells.push(`<tr><th align="left">Logs</th><td>${link}<code>${escapeHtml(p.logs)}</code></td></tr>`);
  const html = `<p>${escapeHtml(headline)}</p>\n<table cellpadding="4">\n${cells.join("\n")}\n</table>\n`;

  return { subject: subject ? fillSubject(subject, p) : defaultSubject(p), text, html };
}

function cellHtml(label: string, value: string): string {
  return label === "Message" ? `<pre>${escapeHtml(value)}</pre>` : escapeHtml(value);
}
