import { defineSpecs } from './harness.js'

defineSpecs(9, [7, 14, 9, 1, 18, 11, 5])
