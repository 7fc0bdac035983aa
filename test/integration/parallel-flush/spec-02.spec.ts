import { defineSpecs } from './harness.js'

defineSpecs(2, [11, 4, 12, 1, 9, 13, 3])
