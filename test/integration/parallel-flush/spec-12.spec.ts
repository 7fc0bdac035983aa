import { defineSpecs } from './harness.js'

defineSpecs(12, [7, 8, 18, 14, 10, 5, 14, 17])
