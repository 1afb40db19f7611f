/**
 * The contracts of CustomResourceDefinitions (apiextensions.k8s.io/v1): the schema shape a CRD
 * carries (JSONSchemaProps), and what a served custom kind lends the generic registry and the
 * HTTP edge (CustomKind) in place of the generated, per-kind code built-in kinds have.
 */
import type { FieldError } from '../errors.js';
import type { TableOptions } from '../tables.js';

type Obj = Record<string, any>;

/** one x-kubernetes-validations rule */
export interface ValidationRule {
  rule: string;
  message?: string;
  messageExpression?: string;
  reason?: string;
  fieldPath?: string;
}

/** apiextensions.k8s.io/v1 JSONSchemaProps, the subset a structural schema may use */
export interface JSONSchemaProps {
  type?: string;
  format?: string;
  description?: string;
  title?: string;
  properties?: Record<string, JSONSchemaProps>;
  additionalProperties?: boolean | JSONSchemaProps;
  items?: JSONSchemaProps | JSONSchemaProps[];
  required?: string[];
  enum?: unknown[];
  default?: unknown;
  nullable?: boolean;
  maximum?: number;
  minimum?: number;
  exclusiveMaximum?: boolean;
  exclusiveMinimum?: boolean;
  multipleOf?: number;
  maxLength?: number;
  minLength?: number;
  pattern?: string;
  maxItems?: number;
  minItems?: number;
  uniqueItems?: boolean;
  maxProperties?: number;
  minProperties?: number;
  allOf?: JSONSchemaProps[];
  anyOf?: JSONSchemaProps[];
  oneOf?: JSONSchemaProps[];
  not?: JSONSchemaProps;
  example?: unknown;
  externalDocs?: unknown;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-int-or-string'?: boolean;
  'x-kubernetes-embedded-resource'?: boolean;
  'x-kubernetes-list-type'?: string;
  'x-kubernetes-list-map-keys'?: string[];
  'x-kubernetes-map-type'?: string;
  'x-kubernetes-validations'?: ValidationRule[];
  [other: string]: unknown;
}

/** The part of an object a write replaces (the generic registry's WritePart). */
export type CustomWritePart = 'main' | 'status' | 'finalize';

/** additionalPrinterColumns entry */
export interface PrinterColumn {
  name: string;
  type: string;
  format?: string;
  description?: string;
  priority?: number;
  jsonPath: string;
}

/**
 * What a served custom kind (or the CRD kind itself) does in place of the built-in kinds'
 * generated code: defaulting and pruning, validation, the request body's unknown fields, and
 * server-side printing.
 */
export interface CustomKind {
  /** defaulting (and pruning of unknown fields) of an object about to be written */
  defaults(obj: Obj, op: 'create' | 'update'): void;
  /**
   * an object as read from storage: pruned and defaulted by the schema as it is now, as
   * apiextensions-apiserver's storage decoder does (a default added to the CRD shows on every
   * object at once; nothing is written back)
   */
  decodeStored?(obj: Obj): void;
  /** field errors of the object (after defaulting); `old` on updates */
  validate(obj: Obj, old: Obj | undefined, part: CustomWritePart): FieldError[];
  /** the unknown fields of a request body, as `unknown field "spec.x"` texts (pruned from obj) */
  unknownFields(obj: Obj): string[];
  /** meta.k8s.io Table of the objects */
  table(objects: Obj[], listMeta: Obj, opts: TableOptions): Obj;
  /** why a new object may not be created now (its definition is being deleted), or undefined */
  refuseCreate?(): string | undefined;
  /** the Warning every request to this version gets, when the CRD marks it deprecated */
  warning?: string;
  /** the scale subresource's paths, when the kind has one */
  scale?: { specReplicasPath: string; statusReplicasPath: string; labelSelectorPath?: string };
}
