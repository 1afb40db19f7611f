/** Certificate requests for the CSR tests: PEM, as openssl writes them. */

// made with openssl: `req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -subj /CN=carol` and `-newkey rsa:2048 -subj /CN=x`
export const EC_CSR = [
  '-----BEGIN CERTIFICATE REQUEST-----',
  'MIHJMHICAQAwEDEOMAwGA1UEAwwFY2Fyb2wwWTATBgcqhkjOPQIBBggqhkjOPQMB',
  'BwNCAAQbMuLMRajecU8Y7QWzMUyBClnx2K05/vwGsVgYEOXAXugoNa+9zPi8xQQH',
  'b4Sbcl/0RLjctBvjiKSVT45quxYnoAAwCgYIKoZIzj0EAwIDRwAwRAIgbzFL5uGb',
  'GAPbfDAbpE7GYCEMPc95oDNMVFzwUUyf5igCIB6ZERc3fGQQGevZ1J9d6mIepoYB',
  'x8V5yJRW7+N5qfOe',
  '-----END CERTIFICATE REQUEST-----',
].join('\n') + '\n';
export const RSA_CSR = [
  '-----BEGIN CERTIFICATE REQUEST-----',
  'MIICUTCCATkCAQAwDDEKMAgGA1UEAwwBeDCCASIwDQYJKoZIhvcNAQEBBQADggEP',
  'ADCCAQoCggEBAK8ACcbQMliYQmN1TkyWtyfhMGHZiNsU0TvQQqiCusxrRWOSikUP',
  '6KDYRkm5rhN+whqNLIxLzDVhmNRVbdL6zD5Gmcsot1NelVNUTbIgTgQFzBcWapcZ',
  'eCk38tShYETWrBAoIqPBy2xZRuQPC1Ov1ue47ZUYqaXOIfeE5XvCrh6i5kspwtL1',
  '5HzI+bOVEIdjMOyVQzOxTAd++Wi7+Ql1xKC6BDFNJ13ImpQOmi78BuWtM4LgECR+',
  'pbBKMHQpJjJr5hgWrre+0ExbAqxKlwK6LvTyAouist+py7Xb7PPfn3/fU5/94jHb',
  'l2TUO2OZUhMjgn99uJkmD90hUU5G9AKq5/8CAwEAAaAAMA0GCSqGSIb3DQEBCwUA',
  'A4IBAQBx4NyOOBVhZF0MJQRQOiroEOVfcxM0n4j9w9hxOXoZhkiPDN0mUkoP/chD',
  'SPpBWdbU7IPUGRoKMeIo5MYH/3EE+exGqrdCvMeMJWj4Vg4/Om1eoA3plyuM+j3a',
  'xPdnZCrpr49/gPMmnX64xcRwelvMyMv68ugrydk9UgY7gzso7wzCbopByhUm9eaT',
  'Ud6Qm+LaKPC4mduMz4Z+NdcYNdtYsHgHNt38UUrzrtVraaCC2rHiCHLXq803jl/4',
  'CQBfuMNn9fSYM0aLf1eDN0+7GjlzEsbyOxQ1AE+8PEGMthqP6eEDUIFgEajIJ5zg',
  'O+D4Re1ZQpL/FIh+nV91pvdo/CKR',
  '-----END CERTIFICATE REQUEST-----',
].join('\n') + '\n';

// `-subj /CN=evil/O=system:masters` (EC P-256)
export const MASTERS_CSR = [
  '-----BEGIN CERTIFICATE REQUEST-----',
  'MIHkMIGKAgEAMCgxDTALBgNVBAMMBGV2aWwxFzAVBgNVBAoMDnN5c3RlbTptYXN0',
  'ZXJzMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEkskSNtNXOJCygrrzfGnIQU1u',
  'Or8SXlCBF/GHkllrWM+lY9cuLp2N/lKbhF67ZyNfHQtSwBeuv5lUp6b1Pm43CaAA',
  'MAoGCCqGSM49BAMCA0kAMEYCIQConi6xAWA9hUcmpBNHhsgjxpHVwIGsw7AGsuiM',
  'EUXzYQIhAO1msNbLtPa+ico0sixm44i7q3fEm519fRW8xhR3Rmnx',
  '-----END CERTIFICATE REQUEST-----',
].join('\n') + '\n';

// a certificate podbay's CA issued (for a status.certificate that parses)
export const SOME_CERTIFICATE = [
  '-----BEGIN CERTIFICATE-----',
  'MIICQjCCAeegAwIBAgIQAfZCWPMmqDBN8o+OWa47eDAKBggqhkjOPQQDAjAUMRIw',
  'EAYDVQQDEwlwb2RiYXktY2EwHhcNMjYxMjAxMDgzODI4WhcNMjYxMjAxMDk0MzI4',
  'WjAeMQ0wCwYDVQQDDARqYW5lMQ0wCwYDVQQKDARkZXZzMIIBIjANBgkqhkiG9w0B',
  'AQEFAAOCAQ8AMIIBCgKCAQEArwAJxtAyWJhCY3VOTJa3J+EwYdmI2xTRO9BCqIK6',
  'zGtFY5KKRQ/ooNhGSbmuE37CGo0sjEvMNWGY1FVt0vrMPkaZyyi3U16VU1RNsiBO',
  'BAXMFxZqlxl4KTfy1KFgRNasECgio8HLbFlG5A8LU6/W57jtlRippc4h94Tle8Ku',
  'HqLmSynC0vXkfMj5s5UQh2Mw7JVDM7FMB375aLv5CXXEoLoEMU0nXcialA6aLvwG',
  '5a0zguAQJH6lsEowdCkmMmvmGBaut77QTFsCrEqXArou9PICi6Ky36nLtdvs89+f',
  'f99Tn/3iMduXZNQ7Y5lSEyOCf324mSYP3SFRTkb0Aqrn/wIDAQABo0YwRDAMBgNV',
  'HRMBAf8EAjAAMBMGA1UdJQQMMAoGCCsGAQUFBwMCMB8GA1UdIwQYMBaAFEGgt6Pd',
  '4aE/rVmmbHkqt5gLWE44MAoGCCqGSM49BAMCA0kAMEYCIQDPkVYqIZK5F7Xe1PFp',
  'L3d0x+5c8R/IWqSvlk8Nd0Q3rAIhALufhjJJ9PXjF6eq7nsL+zECT7oAAeODLv+X',
  'wavQhwKJ',
  '-----END CERTIFICATE-----',
].join('\n') + '\n';
