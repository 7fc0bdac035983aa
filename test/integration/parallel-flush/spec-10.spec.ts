import { defineSpecs } from './harness.js'

defineSpecs(10, [13, 10, 10, 13, 8, 19, 8, 12])
