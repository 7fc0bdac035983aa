import { defineSpecs } from './harness.js'

defineSpecs(6, [16, 19, 19, 10, 2, 10, 4])
