/** apimachinery's rand.String(5) as generateName and the ServiceAccount admission use it: no vowels, no 0/1/3. */
const GEN_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

export function generateSuffix(): string {
  let s = '';
  for (let i = 0; i < 5; i++) s += GEN_ALPHABET[Math.floor(Math.random() * GEN_ALPHABET.length)];
  return s;
}
