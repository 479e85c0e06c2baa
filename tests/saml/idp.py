#!/usr/bin/env python3
"""A real SAML identity provider for Roster's tests: pysaml2 signing with
xmlsec1, served on a loopback port. It stands in for Okta or Entra:

  GET  /metadata?style=okta|entra   the IdP's metadata, shaped as each IdP's
       [&host=localhost]            (its sign-on URL on another host name)
  GET  /cert                        the signing certificate (PEM)
  POST /sp-metadata                 load Roster's SP metadata (body: XML)
  GET  /sso?SAMLRequest=..&user=..  answer an AuthnRequest (HTTP-Redirect):
                                    JSON {action, SAMLResponse, RelayState, request_id}
  POST /login-as                    who is "signed in" at the IdP for browsers
                                    (JSON {user, first_name, last_name})
  GET  /sso?SAMLRequest=..          without user=: as a real IdP answers a
                                    browser, an HTML form that posts itself
  POST /respond                     craft a response from a JSON spec (below),
                                    including the attacks an SP must refuse

Spec for /respond: name_id, email, first_name, last_name, in_response_to,
destination, audience, sign_response, sign_assertion, alg (sha256|sha1),
key (idp|other), clock_offset (seconds), attack (wrap_assertion|
wrap_response|alter|none).

Usage: idp.py WORKDIR   (prints "PORT n" once listening on 127.0.0.1)
"""

import base64
import http.server
import json
import threading
import os
import re
import subprocess
import sys
import time
import urllib.parse

from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.config import IdPConfig
from saml2.saml import NAME_FORMAT_BASIC, NAMEID_FORMAT_EMAILADDRESS, NameID
from saml2.server import Server
from saml2.xmldsig import DIGEST_SHA1, DIGEST_SHA256, SIG_RSA_SHA1, SIG_RSA_SHA256

WORK = sys.argv[1]
ATTRIBUTE_MAP = """
MAP = {
    "identifier": "urn:oasis:names:tc:SAML:2.0:attrname-format:basic",
    "fro": {"email": "email", "first_name": "first_name", "last_name": "last_name"},
    "to": {"email": "email", "first_name": "first_name", "last_name": "last_name"},
}
"""

LOCK = threading.Lock()

# pysaml2 reads the clock through time.gmtime; shifting it makes responses
# that are expired or not yet valid, signed like any other.
_real_gmtime = time.gmtime
CLOCK_OFFSET = [0]


def _shifted_gmtime(secs=None):
    if secs is None:
        secs = time.time() + CLOCK_OFFSET[0]
    return _real_gmtime(secs)


time.gmtime = _shifted_gmtime


def keypair(name):
    key, crt = os.path.join(WORK, name + ".key"), os.path.join(WORK, name + ".crt")
    if not os.path.exists(crt):
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30",
             "-subj", "/CN=" + name + ".idp.test", "-keyout", key, "-out", crt],
            check=True, capture_output=True)
    return key, crt


def cert_body(crt):
    with open(crt) as f:
        pem = f.read()
    return "".join(l for l in pem.splitlines() if "-----" not in l)


class State:
    port = 0
    browser_user = None
    sp_metadata = None
    # Audiences outside Roster's metadata (the wrong-audience attack) get a
    # minimal SP entry, which pysaml2 needs before it answers them.
    extra_sps = {}
    servers = {}

    @classmethod
    def base(cls):
        return "http://127.0.0.1:%d" % cls.port

    @classmethod
    def entity_id(cls):
        return cls.base() + "/idp"

    @classmethod
    def server(cls, which):
        if which not in cls.servers:
            key, crt = keypair(which)
            attr_dir = os.path.join(WORK, "attributemaps")
            os.makedirs(attr_dir, exist_ok=True)
            with open(os.path.join(attr_dir, "basic.py"), "w") as f:
                f.write(ATTRIBUTE_MAP)
            conf = {
                "entityid": cls.entity_id(),
                "key_file": key,
                "cert_file": crt,
                "xmlsec_binary": "/usr/bin/xmlsec1",
                "attribute_map_dir": attr_dir,
                "service": {"idp": {
                    "endpoints": {"single_sign_on_service": [
                        ("http://%s:%d/sso" % (host, cls.port), binding)
                        for host in ("127.0.0.1", "localhost")
                        for binding in (BINDING_HTTP_REDIRECT, BINDING_HTTP_POST)]},
                    "name_id_format": [NAMEID_FORMAT_EMAILADDRESS],
                    "policy": {"default": {
                        "lifetime": {"minutes": 5},
                        "attribute_restrictions": None,
                        "name_form": NAME_FORMAT_BASIC}},
                }},
                "metadata": {"inline": ([cls.sp_metadata] if cls.sp_metadata else [])
                             + list(cls.extra_sps.values())},
            }
            config = IdPConfig()
            config.load(conf)
            cls.servers[which] = Server(config=config)
        return cls.servers[which]


SP_TEMPLATE = ('<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="%s">'
               '<md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">'
               '<md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" '
               'Location="%s" index="0"/></md:SPSSODescriptor></md:EntityDescriptor>')


def ensure_sp(audience, acs):
    known = State.sp_metadata and ('entityID="%s"' % audience) in State.sp_metadata
    if not known and audience not in State.extra_sps:
        State.extra_sps[audience] = SP_TEMPLATE % (audience, acs)
        State.servers = {}


def response_xml(spec):
    which = spec.get("key", "idp")
    ensure_sp(spec["audience"], spec["destination"])
    idp = State.server(which)
    sha1 = spec.get("alg") == "sha1"
    identity = {k: [spec[k]] for k in ("email", "first_name", "last_name") if spec.get(k)}
    CLOCK_OFFSET[0] = int(spec.get("clock_offset", 0))
    try:
        resp = idp.create_authn_response(
            identity,
            in_response_to=spec.get("in_response_to"),
            destination=spec["destination"],
            sp_entity_id=spec["audience"],
            name_id=NameID(format=NAMEID_FORMAT_EMAILADDRESS, text=spec["name_id"]),
            authn={"class_ref": "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"},
            sign_response=spec.get("sign_response", True),
            sign_assertion=spec.get("sign_assertion", True),
            sign_alg=SIG_RSA_SHA1 if sha1 else SIG_RSA_SHA256,
            digest_alg=DIGEST_SHA1 if sha1 else DIGEST_SHA256,
        )
    finally:
        CLOCK_OFFSET[0] = 0
    xml = str(resp)
    return attack(xml, spec.get("attack") or "none", spec)


ASSERTION = re.compile(r"<(\w+):Assertion\b.*?</\1:Assertion>", re.S)
SIGNATURE = re.compile(r"<(\w+):Signature\b.*?</\1:Signature>", re.S)


def evil_assertion(xml, spec):
    """The document's assertion, unsigned, for someone else."""
    m = ASSERTION.search(xml)
    evil = SIGNATURE.sub("", m.group(0))
    evil = re.sub(r'ID="[^"]+"', 'ID="_evil0000000000000000000000000001"', evil, count=1)
    return evil.replace(spec["name_id"], spec.get("victim", "victim@example.com"))


def attack(xml, kind, spec):
    if kind == "none":
        return xml
    if kind == "alter":
        # The signed content changed after signing.
        return xml.replace(spec["name_id"], spec.get("victim", "victim@example.com"))
    if kind == "wrap_assertion":
        # An unsigned assertion placed before the signed one.
        m = ASSERTION.search(xml)
        return xml[:m.start()] + evil_assertion(xml, spec) + xml[m.start():]
    if kind == "wrap_response":
        # The signed response moved into the Extensions of a forged one
        # that carries an unsigned assertion.
        root = re.match(r"(<\?xml[^>]*>)?\s*<(\w+):Response\b([^>]*)>", xml)
        prefix = root.group(2)
        decl = root.group(1) or ""
        original = xml[root.end(1) if root.group(1) else 0:]
        attrs = re.sub(r'ID="[^"]+"', 'ID="_evilresponse00000000000000000001"', root.group(3), count=1)
        status_ns = 'xmlns:%s="urn:oasis:names:tc:SAML:2.0:protocol"' % prefix
        if status_ns not in attrs:
            attrs += " " + status_ns
        return (decl + "<%s:Response%s><%s:Extensions>%s</%s:Extensions>"
                "<%s:Status><%s:StatusCode Value=\"urn:oasis:names:tc:SAML:2.0:status:Success\"/></%s:Status>%s</%s:Response>"
                % (prefix, attrs, prefix, original, prefix, prefix, prefix, prefix,
                   evil_assertion(xml, spec), prefix))
    if kind == "claim_request":
        # An unsolicited response given an InResponseTo on its (unsigned)
        # Response element, to pass as the answer to spec["claim"].
        root = re.search(r"<(\w+):Response\b", xml)
        at = root.end()
        return xml[:at] + ' InResponseTo="%s"' % spec["claim"] + xml[at:]
    raise ValueError("unknown attack " + kind)


def autopost(action, saml_response, relay_state):
    """The page an IdP returns after sign-in: the HTTP-POST binding."""
    esc = lambda v: (v.replace("&", "&amp;").replace('"', "&quot;")
                      .replace("<", "&lt;").replace(">", "&gt;"))
    return ('<!doctype html><html><body onload="document.forms[0].submit()">'
            '<form method="post" action="%s">'
            '<input type="hidden" name="SAMLResponse" value="%s">'
            '<input type="hidden" name="RelayState" value="%s">'
            '<noscript><button>Continue</button></noscript></form></body></html>'
            % (esc(action), esc(saml_response), esc(relay_state)))


def metadata(style, host):
    _, crt = keypair("idp")
    cert = cert_body(crt)
    # The sign-on URL may name another host for the same loopback server
    # (localhost beside 127.0.0.1): a browser then crosses sites, as it does
    # between a real IdP and Roster.
    sso = "http://%s:%d/sso" % (host, State.port)
    entity = State.entity_id()
    if style == "okta":
        # The shape of Okta's "Identity Provider metadata" (md: prefixes).
        return f"""<?xml version="1.0" encoding="UTF-8"?><md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="{entity}"><md:IDPSSODescriptor WantAuthnRequestsSigned="false" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>{cert}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor><md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified</md:NameIDFormat><md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</md:NameIDFormat><md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="{sso}"/><md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="{sso}"/></md:IDPSSODescriptor></md:EntityDescriptor>"""
    # The shape of Entra's App Federation Metadata: default namespace, a
    # metadata signature, WS-Federation RoleDescriptors before the
    # IDPSSODescriptor, a certificate in each of them.
    return f"""<?xml version="1.0" encoding="utf-8"?><EntityDescriptor ID="_0b6a8c1e-4f2d-4c57-9a0e-2f4f1d7c9b11" entityID="{entity}" xmlns="urn:oasis:names:tc:SAML:2.0:metadata"><Signature xmlns="http://www.w3.org/2000/09/xmldsig#"><SignedInfo><CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/><SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/><Reference URI="#_0b6a8c1e-4f2d-4c57-9a0e-2f4f1d7c9b11"><Transforms><Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/><Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></Transforms><DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><DigestValue>AAAA</DigestValue></Reference></SignedInfo><SignatureValue>AAAA</SignatureValue><KeyInfo><X509Data><X509Certificate>{cert}</X509Certificate></X509Data></KeyInfo></Signature><RoleDescriptor xsi:type="fed:SecurityTokenServiceType" protocolSupportEnumeration="http://docs.oasis-open.org/wsfed/federation/200706" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:fed="http://docs.oasis-open.org/wsfed/federation/200706"><KeyDescriptor use="signing"><KeyInfo xmlns="http://www.w3.org/2000/09/xmldsig#"><X509Data><X509Certificate>{cert}</X509Certificate></X509Data></KeyInfo></KeyDescriptor><fed:ClaimTypesOffered><auth:ClaimType Uri="http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name" xmlns:auth="http://docs.oasis-open.org/wsfed/authorization/200706"><auth:DisplayName>Name</auth:DisplayName></auth:ClaimType></fed:ClaimTypesOffered><fed:PassiveRequestorEndpoint><wsa:EndpointReference xmlns:wsa="http://www.w3.org/2005/08/addressing"><wsa:Address>{sso}</wsa:Address></wsa:EndpointReference></fed:PassiveRequestorEndpoint></RoleDescriptor><IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><KeyDescriptor use="signing"><KeyInfo xmlns="http://www.w3.org/2000/09/xmldsig#"><X509Data><X509Certificate>{cert}</X509Certificate></X509Data></KeyInfo></KeyDescriptor><SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="{sso}"/><SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="{sso}"/><SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="{sso}"/></IDPSSODescriptor></EntityDescriptor>"""


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def reply(self, status, body, ctype="application/json"):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        with LOCK:
            self.get()

    def do_POST(self):
        with LOCK:
            self.post()

    def get(self):
        url = urllib.parse.urlparse(self.path)
        q = dict(urllib.parse.parse_qsl(url.query))
        try:
            if url.path == "/metadata":
                return self.reply(200, metadata(q.get("style", "okta"), q.get("host", "127.0.0.1")),
                                  "application/samlmetadata+xml")
            if url.path == "/cert":
                with open(keypair("idp")[1]) as f:
                    return self.reply(200, f.read(), "application/x-pem-file")
            if url.path == "/sso":
                idp = State.server("idp")
                req = idp.parse_authn_request(q["SAMLRequest"], BINDING_HTTP_REDIRECT)
                message = req.message
                who = q if "user" in q else (State.browser_user or {})
                user = who["user"]
                xml = response_xml({
                    "name_id": user, "email": who.get("email", user),
                    "first_name": who.get("first_name"), "last_name": who.get("last_name"),
                    "in_response_to": message.id,
                    "destination": message.assertion_consumer_service_url,
                    "audience": message.issuer.text,
                })
                if "user" not in q:
                    return self.reply(200, autopost(
                        message.assertion_consumer_service_url,
                        base64.b64encode(xml.encode()).decode(),
                        q.get("RelayState", "")), "text/html; charset=utf-8")
                return self.reply(200, json.dumps({
                    "action": message.assertion_consumer_service_url,
                    "SAMLResponse": base64.b64encode(xml.encode()).decode(),
                    "RelayState": q.get("RelayState", ""),
                    "request_id": message.id,
                    "issuer": message.issuer.text,
                }))
            self.reply(404, "{}")
        except Exception as e:  # the test reads the reason
            self.reply(500, json.dumps({"error": repr(e)}))

    def post(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
        try:
            if self.path == "/sp-metadata":
                State.sp_metadata = body
                State.servers = {}
                return self.reply(200, "{}")
            if self.path == "/login-as":
                State.browser_user = json.loads(body)
                return self.reply(200, "{}")
            if self.path == "/respond":
                xml = response_xml(json.loads(body))
                return self.reply(200, json.dumps({
                    "SAMLResponse": base64.b64encode(xml.encode()).decode(), "xml": xml}))
            self.reply(404, "{}")
        except Exception as e:
            self.reply(500, json.dumps({"error": repr(e)}))


def main():
    # Threads: a browser opens speculative connections that send nothing,
    # which would stall a one-request-at-a-time server. Signing itself is
    # serialized (LOCK), as pysaml2's state and the clock shift are global.
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    State.port = httpd.server_address[1]
    keypair("idp")
    keypair("other")
    print("PORT %d" % State.port, flush=True)
    httpd.serve_forever()


if __name__ == "__main__":
    main()
