import { defineSpecs } from './harness.js'

defineSpecs(4, [18, 3, 10, 1, 9, 14, 20])
