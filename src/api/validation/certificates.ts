/**
 * certificates.k8s.io/v1 CertificateSigningRequest, validated as kube-apiserver does
 * (pkg/apis/certificates/validation): on create spec.request must be a PEM CERTIFICATE REQUEST
 * signed by its own key, usages present, known and not repeated, signerName well-formed (and
 * not the v1beta1-only legacy-unknown), expirationSeconds at least 600; the conditions are
 * checked on every write, and which part of an update may add or change what:
 *
 *   main resource   nothing of status (the strategy keeps the stored spec and status)
 *   /status         the certificate (once) and conditions other than Approved/Denied
 *   /approval       Approved/Denied conditions (kubectl certificate approve|deny)
 *
 * None may remove an Approved, Denied or Failed condition. What a stored object already breaks
 * (unknown usages, duplicate condition types ...) is tolerated on update, as upstream's
 * getValidationOptions derives from the old object.
 */
import { X509Certificate } from 'node:crypto';
import { csrRequestProblem } from '../csr.js';
import { type Obj, type ValidationError, arr, duplicate, forbidden, invalid, isObj, notSupported, obj, required, semanticEqual, str, tooLong } from './field.js';
import { validateObjectMeta, validateObjectMetaUpdate } from './meta.js';
import { DNS1123_LABEL_MAX, DNS1123_SUBDOMAIN_MAX, isDNS1123Label, isDNS1123Subdomain } from './names.js';

export const LEGACY_UNKNOWN_SIGNER = 'kubernetes.io/legacy-unknown';

/** allValidUsages, sorted as sets.String.List() prints them */
export const KEY_USAGES = [
  'any', 'cert sign', 'client auth', 'code signing', 'content commitment', 'crl sign', 'data encipherment', 'decipher only',
  'digital signature', 'email protection', 'encipher only', 'ipsec end system', 'ipsec tunnel', 'ipsec user', 'key agreement',
  'key encipherment', 'microsoft sgc', 'netscape sgc', 'ocsp signing', 's/mime', 'server auth', 'signing', 'timestamping',
];
const KNOWN_USAGES = new Set(KEY_USAGES);
/** condition types whose only status is True */
const TRUE_ONLY = new Set(['Approved', 'Denied', 'Failed']);

interface Options {
  allowSettingApprovalConditions: boolean;
  allowSettingCertificate: boolean;
  allowBothApprovedAndDenied: boolean;
  allowLegacySignerName: boolean;
  allowDuplicateConditionTypes: boolean;
  allowEmptyConditionType: boolean;
  allowArbitraryCertificate: boolean;
  allowUnknownUsages: boolean;
  allowDuplicateUsages: boolean;
}

const conditionsOf = (csr: Obj): Obj[] => arr(obj(csr.status).conditions).filter(isObj);
const usagesOf = (csr: Obj): string[] => arr(obj(csr.spec).usages).map(str);
const hasDuplicates = (xs: string[]) => new Set(xs).size !== xs.length;

/** getValidationOptions: what the stored object already breaks is tolerated (none on create) */
function options(csr: Obj, old: Obj | undefined): Options {
  const oldTypes = old ? conditionsOf(old).map((c) => str(c.type)) : [];
  return {
    allowSettingApprovalConditions: false,
    allowSettingCertificate: false,
    allowBothApprovedAndDenied: oldTypes.includes('Approved') && oldTypes.includes('Denied'),
    allowLegacySignerName: !!old && obj(old.spec).signerName === LEGACY_UNKNOWN_SIGNER,
    allowDuplicateConditionTypes: hasDuplicates(oldTypes),
    allowEmptyConditionType: oldTypes.includes(''),
    allowArbitraryCertificate: !!old && (str(obj(csr.status).certificate) === str(obj(old.status).certificate) || certificateProblem(str(obj(old.status).certificate)) !== undefined),
    allowUnknownUsages: !!old && usagesOf(old).some((u) => !KNOWN_USAGES.has(u)),
    allowDuplicateUsages: !!old && hasDuplicates(usagesOf(old)),
  };
}

/** Go's %#v of a []byte, as field.Invalid prints spec.request */
function goBytes(b64: unknown): string {
  if (b64 === undefined || b64 === null) return '[]byte(nil)';
  const b = Buffer.from(str(b64), 'base64');
  return `[]byte{${[...b].map((x) => `0x${x.toString(16)}`).join(', ')}}`;
}

/** validateCertificate: status.certificate is empty or CERTIFICATE PEM blocks only, each parsing */
function certificateProblem(b64: string): string | undefined {
  if (!b64) return undefined;
  const text = Buffer.from(b64, 'base64').toString('latin1');
  const blocks = [...text.matchAll(/-----BEGIN ([^\n-]*)-----\r?\n([\s\S]*?)-----END \1-----/g)];
  if (!blocks.length) return 'must contain at least one CERTIFICATE PEM block';
  for (const [, type, body] of blocks) {
    if (type !== 'CERTIFICATE') return `only CERTIFICATE PEM blocks are allowed, found ${JSON.stringify(type)}`;
    if (/^[\w-]+:/m.test(body)) return 'no PEM block headers are permitted';
    try {
      new X509Certificate(Buffer.from(body.replace(/\s+/g, ''), 'base64'));
    } catch {
      return 'x509: malformed certificate';
    }
  }
  return undefined;
}

/** apivalidation.ValidateSignerName */
export function validateSignerName(field: string, signerName: string): ValidationError[] {
  if (!signerName) return [required(field)];
  const segments = signerName.split('/');
  if (segments.length !== 2) return [invalid(field, signerName, "must be a fully qualified domain and path of the form 'example.com/signer-name'")];
  const errs: ValidationError[] = [];
  const [domain, path] = segments;
  if (domain.length > DNS1123_SUBDOMAIN_MAX) errs.push(tooLong(field, DNS1123_SUBDOMAIN_MAX));
  const labels = domain.split('.');
  for (const l of labels) {
    const problems = isDNS1123Label(l);
    if (problems.length) {
      for (const p of problems) errs.push(invalid(field, domain, `validating label ${JSON.stringify(l)}: ${p}`));
      break;
    }
  }
  if (labels.length < 2) errs.push(invalid(field, domain, 'should be a domain with at least two segments separated by dots'));
  for (const l of path.split('.')) {
    const problems = isDNS1123Subdomain(l);
    if (problems.length) {
      for (const p of problems) errs.push(invalid(field, path, `validating label ${JSON.stringify(l)}: ${p}`));
      break;
    }
  }
  const max = DNS1123_SUBDOMAIN_MAX + DNS1123_SUBDOMAIN_MAX + DNS1123_LABEL_MAX + 1 + 1;
  if (signerName.length > max) errs.push(tooLong(field, max));
  return errs;
}

function validateConditions(csr: Obj, o: Options): ValidationError[] {
  const errs: ValidationError[] = [];
  const seen = new Set<string>();
  let approved = false;
  let denied = false;
  conditionsOf(csr).forEach((c, i) => {
    const at = `status.conditions[${i}]`;
    const type = str(c.type);
    if (!o.allowEmptyConditionType && !type) errs.push(required(`${at}.type`));
    const allowed = TRUE_ONLY.has(type) ? ['True'] : ['False', 'True', 'Unknown'];
    if (!c.status) errs.push(required(`${at}.status`));
    else if (!allowed.includes(str(c.status))) errs.push(notSupported(`${at}.status`, c.status, allowed));
    if (!o.allowBothApprovedAndDenied) {
      if (type === 'Approved') {
        approved = true;
        if (denied) errs.push(invalid('status.conditions', type, 'Approved and Denied conditions are mutually exclusive'));
      } else if (type === 'Denied') {
        denied = true;
        if (approved) errs.push(invalid('status.conditions', type, 'Approved and Denied conditions are mutually exclusive'));
      }
    }
    if (!o.allowDuplicateConditionTypes) {
      if (seen.has(type)) errs.push(duplicate(`${at}.type`, type));
      seen.add(type);
    }
  });
  return errs;
}

function validate(csr: Obj, o: Options): ValidationError[] {
  const spec = obj(csr.spec);
  const errs = validateObjectMeta(csr.metadata, false, 'path-segment');
  const problem = csrRequestProblem(Buffer.from(str(spec.request), 'base64'));
  if (problem) errs.push({ type: 'FieldValueInvalid', field: 'spec.request', rawValue: goBytes(spec.request), detail: problem });
  const usages = arr(spec.usages);
  if (!usages.length) errs.push(required('spec.usages'));
  if (!o.allowUnknownUsages) usages.forEach((u, i) => KNOWN_USAGES.has(u) || errs.push(notSupported(`spec.usages[${i}]`, u, KEY_USAGES)));
  if (!o.allowDuplicateUsages) {
    const seen = new Set<unknown>();
    usages.forEach((u, i) => {
      if (seen.has(u)) errs.push(duplicate(`spec.usages[${i}]`, u));
      seen.add(u);
    });
  }
  const signerName = str(spec.signerName);
  if (!o.allowLegacySignerName && signerName === LEGACY_UNKNOWN_SIGNER) errs.push(invalid('spec.signerName', signerName, 'the legacy signerName is not allowed via this API version'));
  else errs.push(...validateSignerName('spec.signerName', signerName));
  if (typeof spec.expirationSeconds === 'number' && spec.expirationSeconds < 600) {
    errs.push(invalid('spec.expirationSeconds', spec.expirationSeconds, 'may not specify a duration less than 600 seconds (10 minutes)'));
  }
  errs.push(...validateConditions(csr, o));
  if (!o.allowArbitraryCertificate) {
    const bad = certificateProblem(str(obj(csr.status).certificate));
    if (bad) errs.push({ type: 'FieldValueInvalid', field: 'status.certificate', rawValue: '"<certificate data>"', detail: bad });
  }
  return errs;
}

export function validateCertificateSigningRequest(csr: Obj): ValidationError[] {
  return validate(csr, options(csr, undefined));
}

function validateUpdate(csr: Obj, old: Obj, o: Options): ValidationError[] {
  const errs = validate(csr, o);
  const of = (x: Obj, t: string) => conditionsOf(x).filter((c) => c.type === t);
  for (const t of ['Approved', 'Denied', 'Failed']) {
    if (of(csr, t).length < of(old, t).length) errs.push(forbidden('status.conditions', `updates may not remove a condition of type ${JSON.stringify(t)}`));
  }
  if (!o.allowSettingApprovalConditions) {
    for (const t of ['Approved', 'Denied']) {
      const [before, after] = [of(old, t), of(csr, t)];
      if (after.length > before.length) errs.push(forbidden('status.conditions', `updates may not add a condition of type ${JSON.stringify(t)}`));
      else if (after.length === before.length && !semanticEqual(before, after)) errs.push(forbidden('status.conditions', `updates may not modify a condition of type ${JSON.stringify(t)}`));
    }
  }
  const [cert, oldCert] = [str(obj(csr.status).certificate), str(obj(old.status).certificate)];
  if (cert !== oldCert) {
    if (!o.allowSettingCertificate) errs.push(forbidden('status.certificate', 'updates may not set certificate content'));
    else if (oldCert) errs.push(forbidden('status.certificate', 'updates may not modify existing certificate content'));
  }
  errs.push(...validateObjectMetaUpdate(csr.metadata, old.metadata));
  return errs;
}

export function validateCertificateSigningRequestUpdate(csr: Obj, old: Obj): ValidationError[] {
  return validateUpdate(csr, old, options(csr, old));
}

export function validateCertificateSigningRequestStatusUpdate(csr: Obj, old: Obj): ValidationError[] {
  return validateUpdate(csr, old, { ...options(csr, old), allowSettingCertificate: true });
}

export function validateCertificateSigningRequestApprovalUpdate(csr: Obj, old: Obj): ValidationError[] {
  return validateUpdate(csr, old, { ...options(csr, old), allowSettingApprovalConditions: true });
}
