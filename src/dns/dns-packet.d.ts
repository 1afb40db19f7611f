// The few parts of dns-packet 5 (no typings published) podbay's cluster DNS uses.
declare module 'dns-packet' {
  export interface Question {
    name: string;
    type: string;
    class?: string;
  }
  export interface Answer {
    name: string;
    type: string;
    class?: string;
    ttl?: number;
    data?: any;
    udpPayloadSize?: number;
  }
  export interface Packet {
    id?: number;
    type?: 'query' | 'response';
    flags?: number;
    opcode?: string;
    rcode?: string;
    flag_rd?: boolean;
    flag_aa?: boolean;
    flag_tc?: boolean;
    questions?: Question[];
    answers?: Answer[];
    authorities?: Answer[];
    additionals?: Answer[];
  }
  export function encode(p: Packet): Buffer;
  export function decode(b: Buffer): Packet;
  export const AUTHORITATIVE_ANSWER: number;
  export const TRUNCATED_RESPONSE: number;
  export const RECURSION_DESIRED: number;
  export const RECURSION_AVAILABLE: number;
  const _default: { encode: typeof encode; decode: typeof decode; AUTHORITATIVE_ANSWER: number; TRUNCATED_RESPONSE: number; RECURSION_DESIRED: number; RECURSION_AVAILABLE: number };
  export default _default;
}
