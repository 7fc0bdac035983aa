import { defineSpecs } from './harness.js'

defineSpecs(3, [16, 17, 20, 3, 7, 9, 6])
