"""A local HTTP stand-in for the AWS calls DynamoDB Local cannot answer: STS AssumeRole, S3 GetObject and PutObject.

boto3 talks to it through AWS_ENDPOINT_URL_STS / AWS_ENDPOINT_URL_S3 exactly as to AWS, so the
script's real client code (Query-protocol STS, path-style S3) is what the tests exercise.
STS answers with the documented AssumeRoleResponse XML; S3 serves and stores objects in a dict.
"""

import datetime
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

STS_XMLNS = "https://sts.amazonaws.com/doc/2011-06-15/"


class FakeAws:
    def __init__(self, role_arn, external_id, credential_seconds=3600):
        self.role_arn = role_arn
        self.external_id = external_id
        self.credential_seconds = credential_seconds
        self.objects = {}  # (bucket, key) -> bytes
        self.assume_role_requests = []  # the form fields of every AssumeRole call
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep unittest output readable
                pass

            def _send(self, status, body, content_type):
                data = body.encode("utf-8") if isinstance(body, str) else body
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                form = {k: v[0] for k, v in urllib.parse.parse_qs(self.rfile.read(length).decode("utf-8")).items()}
                status, body = fake._assume_role(form)
                self._send(status, body, "text/xml")

            def do_PUT(self):
                path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
                bucket, _, key = path.lstrip("/").partition("/")
                length = int(self.headers.get("Content-Length") or 0)
                with fake._lock:
                    fake.objects[(bucket, key)] = self.rfile.read(length)
                self._send(200, b"", "application/xml")

            def do_GET(self):
                path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
                bucket, _, key = path.lstrip("/").partition("/")
                data = fake.objects.get((bucket, key))
                if data is None:
                    self._send(404, f"<Error><Code>NoSuchKey</Code><Message>{key}</Message></Error>", "application/xml")
                else:
                    self._send(200, data, "application/octet-stream")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def _assume_role(self, form):
        with self._lock:
            self.assume_role_requests.append(form)
            number = len(self.assume_role_requests)
        if form.get("Action") != "AssumeRole":
            return 400, _sts_error("InvalidAction", f"unsupported action {form.get('Action')}")
        if form.get("RoleArn") != self.role_arn or form.get("ExternalId") != self.external_id:
            return 403, _sts_error("AccessDenied", "not authorized to perform sts:AssumeRole")
        expiration = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=self.credential_seconds)
        return 200, f"""<AssumeRoleResponse xmlns="{STS_XMLNS}">
  <AssumeRoleResult>
    <AssumedRoleUser>
      <AssumedRoleId>AROAFAKE:{form.get('RoleSessionName')}</AssumedRoleId>
      <Arn>{self.role_arn.replace(':iam::', ':sts::').replace(':role/', ':assumed-role/')}/{form.get('RoleSessionName')}</Arn>
    </AssumedRoleUser>
    <Credentials>
      <AccessKeyId>ASIAFAKE{number:08d}</AccessKeyId>
      <SecretAccessKey>secret-{number}</SecretAccessKey>
      <SessionToken>token-{number}</SessionToken>
      <Expiration>{expiration.strftime('%Y-%m-%dT%H:%M:%SZ')}</Expiration>
    </Credentials>
  </AssumeRoleResult>
  <ResponseMetadata><RequestId>fake-{number}</RequestId></ResponseMetadata>
</AssumeRoleResponse>"""

    def stop(self):
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


def _sts_error(code, message):
    return (f'<ErrorResponse xmlns="{STS_XMLNS}"><Error><Type>Sender</Type><Code>{code}</Code>'
            f"<Message>{message}</Message></Error><RequestId>fake</RequestId></ErrorResponse>")
