import { defineSpecs } from './harness.js'

defineSpecs(8, [2, 2, 18, 4, 2, 10, 16])
