/**
 * kube-apiserver's admission plugins for CertificateSigningRequests
 * (plugin/pkg/admission/certificates):
 *
 *   CertificateSubjectRestriction  create: a kubernetes.io/kube-apiserver-client request may not
 *                                  ask for the system:masters group (its certificate would be a
 *                                  cluster admin's, whoever approves it)
 *   CertificateApproval            update of /approval: the user may `approve` the request's
 *                                  signer (resource `signers` of certificates.k8s.io, named by
 *                                  the signerName or its domain with /*)
 *   CertificateSigning             update of /status that changes the certificate or the
 *                                  conditions: the user may `sign` for the signer
 *
 * The signer checked is the stored request's. The server's own writes (the signing controller)
 * come without an authorizer and are not asked, as kube-controller-manager holds both verbs.
 */
import type { ApiError } from '../api/errors.js';
import { KUBE_APISERVER_CLIENT_SIGNER, csrSubject } from '../api/csr.js';
import type { AdmissionRequestContext, Obj } from '../api/types.js';
import { admissionForbidden } from './node-restriction.js';
import type { AdmissionAttributes } from './webhooks/types.js';

const CSRS = 'certificates.k8s.io/certificatesigningrequests';

/** certauthorization.IsAuthorizedForSignerName: the exact signer, else its domain's wildcard */
async function mayForSigner(ctx: AdmissionRequestContext, verb: string, signerName: string): Promise<boolean> {
  const ask = (name: string) => ctx.authorize!({ verb, apiGroup: 'certificates.k8s.io', resource: 'signers', name });
  return (await ask(signerName)) || (await ask(`${signerName.split('/')[0]}/*`));
}

export async function certificateAdmission(a: AdmissionAttributes, ctx: AdmissionRequestContext): Promise<ApiError | undefined> {
  if (`${a.r.group}/${a.r.resource}` !== CSRS) return undefined;
  if (a.operation === 'CREATE' && a.subResource === '') {
    const spec: Obj = a.object?.spec ?? {};
    if (spec.signerName !== KUBE_APISERVER_CLIENT_SIGNER) return undefined;
    const subject = csrSubject(String(spec.request ?? ''));
    if (!(subject instanceof Error) && subject.organizations.includes('system:masters')) {
      return admissionForbidden(a, `use of ${KUBE_APISERVER_CLIENT_SIGNER} signer with system:masters group is not allowed`);
    }
    return undefined;
  }
  if (a.operation !== 'UPDATE' || !ctx.authorize) return undefined;
  const signerName = String(a.oldObject?.spec?.signerName ?? '');
  if (a.subResource === 'approval') {
    if (!(await mayForSigner(ctx, 'approve', signerName))) return admissionForbidden(a, `user not permitted to approve requests with signerName ${JSON.stringify(signerName)}`);
  } else if (a.subResource === 'status') {
    const [now, before] = [a.object?.status ?? {}, a.oldObject?.status ?? {}];
    const changed = (now.certificate ?? '') !== (before.certificate ?? '') || JSON.stringify(now.conditions ?? []) !== JSON.stringify(before.conditions ?? []);
    if (changed && !(await mayForSigner(ctx, 'sign', signerName))) return admissionForbidden(a, `user not permitted to sign requests with signerName ${JSON.stringify(signerName)}`);
  }
  return undefined;
}
