// A message as Lifeboat sends it, apart from how: the outbox keeps it, the SMTP sender sends it.

export interface OutgoingMail {
  id: string;
  kind: "report" | "alert" | "digest" | "test";
  host: string | undefined;
  createdAt: string;
  to: string[];
  subject: string;
  text: string;
  html: string | undefined;
  attachments: Array<{ filename: string; content: string; contentType: string }>;
}
