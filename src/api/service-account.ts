/**
 * Names every room agrees on about service accounts (k8s.io/apiserver/pkg/authentication/serviceaccount
 * and the ServiceAccount admission's constants).
 */
export const DEFAULT_SERVICE_ACCOUNT = 'default';
/** where a pod finds its token, ca.crt and namespace */
export const API_TOKEN_MOUNT_PATH = '/var/run/secrets/kubernetes.io/serviceaccount';
/** serviceaccount.WarnOnlyBoundTokenExpirationSeconds: 1 h + 7 s, so a token of this life is known to be the admission's */
export const ADMISSION_TOKEN_EXPIRATION_SECONDS = 3607;
/** the ConfigMap the root CA publisher keeps in every namespace */
export const ROOT_CA_CONFIGMAP = 'kube-root-ca.crt';

export const SERVICE_ACCOUNT_USER_PREFIX = 'system:serviceaccount:';
export const ALL_SERVICE_ACCOUNTS_GROUP = 'system:serviceaccounts';

/** system:serviceaccount:NS:NAME */
export function serviceAccountUsername(ns: string, name: string): string {
  return `${SERVICE_ACCOUNT_USER_PREFIX}${ns}:${name}`;
}

/** the groups of a service account's user: every account's, its namespace's, authenticated */
export function serviceAccountGroups(ns: string): string[] {
  return [ALL_SERVICE_ACCOUNTS_GROUP, `${ALL_SERVICE_ACCOUNTS_GROUP}:${ns}`, 'system:authenticated'];
}

/** NS and NAME of system:serviceaccount:NS:NAME, or undefined for another user name */
export function parseServiceAccountUsername(user: string): { namespace: string; name: string } | undefined {
  if (!user.startsWith(SERVICE_ACCOUNT_USER_PREFIX)) return undefined;
  const parts = user.slice(SERVICE_ACCOUNT_USER_PREFIX.length).split(':');
  if (parts.length !== 2 || !parts[0] || !parts[1]) return undefined;
  return { namespace: parts[0], name: parts[1] };
}

/** a Secret of this type holds a legacy token for the account its annotations name (the tokens controller fills it) */
export const SERVICE_ACCOUNT_TOKEN_SECRET_TYPE = 'kubernetes.io/service-account-token';
/** v1.ServiceAccountNameKey and v1.ServiceAccountUIDKey: the annotations naming a token Secret's account */
export const SERVICE_ACCOUNT_NAME_ANNOTATION = 'kubernetes.io/service-account.name';
export const SERVICE_ACCOUNT_UID_ANNOTATION = 'kubernetes.io/service-account.uid';
/** serviceaccount.LastUsedLabelKey: the day (UTC) a legacy token was last used */
export const LEGACY_TOKEN_LAST_USED_LABEL = 'kubernetes.io/legacy-token-last-used';
/** serviceaccount.InvalidSinceLabelKey: a legacy token whose Secret carries it is refused */
export const LEGACY_TOKEN_INVALID_SINCE_LABEL = 'kubernetes.io/legacy-token-invalid-since';
