import { defineSpecs } from './harness.js'

defineSpecs(11, [8, 11, 7, 4, 2, 9, 10, 12])
