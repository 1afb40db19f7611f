import { storeConformance } from './conformance.js';
import { MemoryStore } from './memory.js';

storeConformance('memory', async () => new MemoryStore());
